"""Koji client profiles, read the way the koji CLI reads them.

A profile is a section of an INI file (``[koji]``, ``[stg]``, ``[mykoji]``) naming the
hub (``server``), the web UI (``weburl``), the file tree (``topurl``) and how to log in
(``authtype``: ``gssapi``/``kerberos``, ``ssl``, ``password`` or ``noauth``). Files are
read in this order, later ones overriding a profile's keys one by one:

1. ``/etc/koji.conf``
2. ``/etc/koji.conf.d/*.conf`` (sorted)
3. ``~/.koji/config.d/*.conf`` (sorted)
4. ``~/.koji/config``

An explicit file (``config=`` backend option, ``$STREAM_BUILD_KOJI_CONFIG``) is read last.
Keys stream-build adds: ``streambuild_target`` (the default build target), and
``streambuild_poll_interval``/``streambuild_retry_interval``, which override koji's
``poll_interval``/``retry_interval`` (whole seconds for the koji CLI) with any number.
"""

from __future__ import annotations

import configparser
import glob
import os
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .. import values
from ..errors import InputError, Location

AUTHTYPES = ("gssapi", "kerberos", "ssl", "password", "noauth")
_BOOL = {"1": True, "yes": True, "true": True, "on": True, "0": False, "no": False, "false": False, "off": False}
_NUMBERS = {"max_retries": int, "retry_interval": float, "timeout": float, "auth_timeout": float, "poll_interval": float}
#: Sub-second values for stream-build only (the koji CLI wants whole seconds in its own keys).
_OURS = {"streambuild_poll_interval": "poll_interval", "streambuild_retry_interval": "retry_interval"}
_BOOLS = ("no_ssl_verify", "anon_retry", "use_fast_upload")
_PATHS = ("cert", "serverca", "keytab", "ccache")
_KNOWN = {
    "server", "weburl", "topurl", "topdir", "authtype", "principal", "keytab", "ccache", "cert", "serverca",
    "user", "password", "krb_rdns", "krb_canon_host", "krbservice", "plugin_paths", "streambuild_target",
    *_NUMBERS, *_BOOLS, *_OURS,
}


@dataclass(frozen=True)
class KojiProfile:
    """One koji profile, with every key the backend uses."""

    name: str
    server: str
    weburl: Optional[str] = None
    topurl: Optional[str] = None
    authtype: str = "noauth"
    principal: Optional[str] = None
    keytab: Optional[str] = None
    ccache: Optional[str] = None
    cert: Optional[str] = None
    serverca: Optional[str] = None
    user: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    no_ssl_verify: bool = False
    max_retries: int = 5
    retry_interval: float = 2.0
    timeout: float = 300.0
    auth_timeout: float = 60.0
    poll_interval: float = 6.0
    target: Optional[str] = None  # streambuild_target
    sources: Tuple[str, ...] = ()  # files the profile was read from

    def task_url(self, task_id: int) -> str:
        """The web UI's page of a task (``<weburl>/taskinfo?taskID=N``), or ``task N``."""
        if self.weburl:
            return f"{self.weburl.rstrip('/')}/taskinfo?taskID={task_id}"
        return f"task {task_id}"


def default_files(home: Optional[str] = None, etc: str = "/etc") -> List[str]:
    """The files the koji CLI reads, in order (missing ones included; they are skipped)."""
    home = home if home is not None else os.path.expanduser("~")
    files = [os.path.join(etc, "koji.conf")]
    files += sorted(glob.glob(os.path.join(etc, "koji.conf.d", "*.conf")))
    files += sorted(glob.glob(os.path.join(home, ".koji", "config.d", "*.conf")))
    files.append(os.path.join(home, ".koji", "config"))
    return files


def read_profiles(files: Sequence[str]) -> Dict[str, Dict[str, Tuple[str, str]]]:
    """Every profile in ``files``: name -> key -> (value, file it came from)."""
    profiles: Dict[str, Dict[str, Tuple[str, str]]] = {}
    for path in files:
        if not os.path.isfile(path):
            continue
        parser = configparser.RawConfigParser()
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle, source=path)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read koji configuration: {exc}", Location(path)) from None
        except configparser.Error as exc:
            raise InputError(f"not a valid koji configuration file: {exc.message}", Location(path)) from None
        for section in parser.sections():
            entry = profiles.setdefault(section, {})
            for key, value in parser.items(section):
                entry[key] = (value, path)
    return profiles


def load_profile(
    name: str = "koji",
    explicit: Optional[str] = None,
    files: Optional[Sequence[str]] = None,
    overrides: Optional[Mapping[str, str]] = None,
) -> KojiProfile:
    """The profile ``name`` from the standard files (or ``files``) plus ``explicit``.

    ``overrides`` (backend options) win over every file. Errors name the file and key.
    """
    values.check_name(name, "koji profile name")
    chain = list(default_files() if files is None else files)
    if explicit is None:
        explicit = os.environ.get("STREAM_BUILD_KOJI_CONFIG") or None
    if explicit:
        if not os.path.isfile(explicit):
            raise InputError("koji configuration file not found", Location(explicit))
        chain.append(explicit)
    profiles = read_profiles(chain)
    raw = dict(profiles.get(name, {}))
    for key, value in (overrides or {}).items():
        raw[key] = (value, "backend option")
    if name not in profiles and "server" not in raw:
        known = ", ".join(sorted(profiles)) or "none"
        read = [f for f in chain if os.path.isfile(f)]
        raise InputError(
            f"no koji profile {name!r} (profiles found: {known}; files read: {', '.join(read) or 'none'})"
        )
    return _profile(name, raw)


def _profile(name: str, raw: Mapping[str, Tuple[str, str]]) -> KojiProfile:
    def where(key: str) -> str:
        return f"{raw[key][1]}: [{name}] {key}"

    unknown = sorted(k for k, (_v, src) in raw.items() if src == "backend option" and k not in _KNOWN | {"target"})
    if unknown:
        raise InputError(f"unknown koji backend option(s): {', '.join(unknown)}")
    # keys the koji CLI knows but stream-build does not use are ignored, as koji ignores ours
    if "server" not in raw or not raw["server"][0].strip():
        raise InputError(f"koji profile {name!r} has no 'server' (the hub's XML-RPC URL)")
    kwargs: Dict[str, object] = {"name": name, "sources": tuple(sorted({src for _v, src in raw.values()}))}
    for key in ("server", "weburl", "topurl"):
        if key in raw:
            url = raw[key][0].strip()
            try:
                values.check_url(url, key, schemes=("https", "http"))
            except InputError as exc:
                raise InputError(f"{where(key)}: {exc.message}") from None
            kwargs[key] = url.rstrip("/")
    if "authtype" in raw:
        authtype = raw["authtype"][0].strip().lower()
        if authtype not in AUTHTYPES:
            raise InputError(f"{where('authtype')}: {authtype!r} is not one of {', '.join(AUTHTYPES)}")
        kwargs["authtype"] = "gssapi" if authtype == "kerberos" else authtype
    for key in ("principal", "user", "password"):
        if key in raw:
            kwargs[key] = raw[key][0].strip()
    for key in _PATHS:
        if key in raw:
            kwargs[key] = os.path.expanduser(raw[key][0].strip())
    for ours, theirs in _OURS.items():
        if ours in raw:
            raw = {**raw, theirs: raw[ours]}
    for key, cast in _NUMBERS.items():
        if key in raw:
            try:
                number = cast(raw[key][0])
            except ValueError:
                raise InputError(f"{where(key)}: {raw[key][0]!r} is not a number") from None
            if number < 0:
                raise InputError(f"{where(key)}: must not be negative")
            kwargs[key] = number
    for key in _BOOLS:
        if key in raw:
            text = raw[key][0].strip().lower()
            if text not in _BOOL:
                raise InputError(f"{where(key)}: {raw[key][0]!r} is not a boolean (yes/no, true/false, 1/0)")
            if key == "no_ssl_verify":
                kwargs[key] = _BOOL[text]
    if "streambuild_target" in raw:
        kwargs["target"] = values.check_name(raw["streambuild_target"][0].strip(), "streambuild_target")
    if "target" in raw:
        kwargs["target"] = values.check_name(raw["target"][0].strip(), "build target")
    profile = KojiProfile(**kwargs)  # type: ignore[arg-type]
    if profile.authtype == "password" and not (profile.user and profile.password is not None):
        raise InputError(f"koji profile {name!r}: authtype password needs 'user' and 'password'")
    if profile.authtype == "ssl" and not profile.cert:
        raise InputError(f"koji profile {name!r}: authtype ssl needs 'cert'")
    return profile
