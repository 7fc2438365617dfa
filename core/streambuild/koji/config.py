"""Koji client profiles, read the way the koji CLI reads them: with ``koji.read_config_files``.

A profile is a section of an INI file (``[koji]``, ``[stg]``, ``[mykoji]``) naming the
hub (``server``), the web UI (``weburl``), the file tree (``topurl``) and how to log in
(``authtype``: ``gssapi``/``kerberos``, ``ssl``, ``password`` or ``noauth``). The files
are those of ``koji.read_config``, in its order, later ones overriding earlier ones:

1. ``/etc/koji.conf.d/*.conf`` (sorted)
2. ``/etc/koji.conf``
3. the user's: ``~/.koji/config.d/*.conf`` and ``~/.koji/config``, or instead an explicit
   file (``config=`` backend option, ``--config``, ``$STREAM_BUILD_KOJI_CONFIG``), which
   must exist: koji's ``-c FILE``.

They are parsed by koji's own ``read_config_files`` (so interpolation and file order are
koji's), and koji's keys get koji's defaults and types (``max_retries`` 30,
``retry_interval`` 20 s, ``poll_interval`` 6 s, whole numbers; ``cert`` and ``serverca``
default to ``~/.koji/client.crt`` and ``~/.koji/serverca.crt`` when those exist; no
``authtype`` means what the koji CLI does: ssl with a cert, password with a user,
else GSSAPI). stream-build's own keys come on top: ``user`` and ``password`` (the koji
CLI takes them as options only), ``streambuild_target`` (the default build target), and
``streambuild_poll_interval``/``streambuild_retry_interval``, which override koji's
``poll_interval``/``retry_interval`` with any number of seconds. ``weburl`` is only used
when set (koji's default, ``http://localhost/koji``, would make links to nowhere).
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple, Union

from .. import values
from ..errors import InputError, Location

AUTHTYPES = ("gssapi", "kerberos", "ssl", "password", "noauth")
#: koji.read_config's defaults for the keys stream-build uses (tests check them against koji's).
KOJI_DEFAULTS: Dict[str, Any] = {"max_retries": 30, "retry_interval": 20, "anon_retry": True, "timeout": 43200,
                                 "auth_timeout": 60, "use_fast_upload": True, "poll_interval": 6,
                                 "no_ssl_verify": False, "authtype": None, "topurl": None}
_KOJI_INTS = ("max_retries", "retry_interval", "poll_interval", "timeout", "auth_timeout")
_KOJI_BOOLS = ("anon_retry", "use_fast_upload")
#: Sub-second values for stream-build only (the koji CLI wants whole seconds in its own keys).
_OURS = {"streambuild_poll_interval": "poll_interval", "streambuild_retry_interval": "retry_interval"}
_PATHS = ("cert", "serverca", "keytab", "ccache")
_KNOWN = {"server", "weburl", "topurl", "authtype", "principal", "keytab", "ccache", "cert", "serverca", "user",
          "password", "no_ssl_verify", "streambuild_target", "target", *_KOJI_INTS, *_KOJI_BOOLS, *_OURS}

ConfigFile = Union[str, Tuple[str, bool]]


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
    max_retries: int = KOJI_DEFAULTS["max_retries"]
    retry_interval: float = KOJI_DEFAULTS["retry_interval"]
    timeout: float = KOJI_DEFAULTS["timeout"]
    auth_timeout: float = KOJI_DEFAULTS["auth_timeout"]
    poll_interval: float = KOJI_DEFAULTS["poll_interval"]
    target: Optional[str] = None  # streambuild_target
    sources: Tuple[str, ...] = ()  # files the profile was read from

    def task_url(self, task_id: int) -> str:
        """The web UI's page of a task (``<weburl>/taskinfo?taskID=N``), or ``task N``."""
        if self.weburl:
            return f"{self.weburl.rstrip('/')}/taskinfo?taskID={task_id}"
        return f"task {task_id}"


def config_files(user_config: Optional[str] = None, etc: str = "/etc", home: Optional[str] = None) -> List[ConfigFile]:
    """What ``koji.read_config(profile, user_config)`` reads, in its order, for koji's ``read_config_files``."""
    home = home if home is not None else os.path.expanduser("~")
    files: List[ConfigFile] = [os.path.join(etc, "koji.conf.d"), os.path.join(etc, "koji.conf")]
    if user_config:
        files.append((os.path.expanduser(user_config), True))  # must exist, as koji -c FILE
    else:
        files += [os.path.join(home, ".koji", "config.d"), os.path.join(home, ".koji", "config")]
    return files


def _read(files: Sequence[ConfigFile]) -> configparser.ConfigParser:
    from . import foreign

    koji = foreign()
    try:
        parser: configparser.ConfigParser = koji.read_config_files(list(files))
        return parser
    except koji.ConfigurationError as exc:
        raise InputError(f"koji configuration: {exc}") from None
    except configparser.Error as exc:
        raise InputError(f"not a valid koji configuration file: {exc.message}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read koji configuration: {exc}") from None


def files_read(files: Sequence[ConfigFile]) -> List[str]:
    out = []
    for item in files:
        path = item[0] if isinstance(item, tuple) else item
        if os.path.isdir(path):
            out += sorted(os.path.join(path, n) for n in os.listdir(path) if n.endswith(".conf"))
        elif os.path.isfile(path):
            out.append(path)
    return out


def load_profile(
    name: str = "koji",
    explicit: Optional[str] = None,
    files: Optional[Sequence[ConfigFile]] = None,
    overrides: Optional[Mapping[str, str]] = None,
) -> KojiProfile:
    """The profile ``name`` from koji's files (or ``files``), ``explicit`` replacing the user's.

    ``overrides`` (backend options) win over every file. Errors name the profile, the key
    and the files read.
    """
    values.check_name(name, "koji profile name")
    if explicit is None:
        explicit = os.environ.get("STREAM_BUILD_KOJI_CONFIG") or None
    if explicit and not os.path.isfile(explicit):
        raise InputError("koji configuration file not found", Location(explicit))
    chain = list(config_files(explicit) if files is None else files)
    if files is not None and explicit:
        chain.append((explicit, True))
    parser = _read(chain)
    read = files_read(chain)
    raw: Dict[str, str] = {}
    if parser.has_section(name):
        try:
            raw = {k: v for k, v in parser.items(name)}
        except configparser.Error as exc:
            raise InputError(f"koji profile {name!r}: {exc.message} (files read: {', '.join(read)})") from None
    for key, value in (overrides or {}).items():
        raw[key] = value
    unknown = sorted(k for k in (overrides or {}) if k not in _KNOWN)
    if unknown:
        raise InputError(f"unknown koji backend option(s): {', '.join(unknown)}")
    if not parser.has_section(name) and "server" not in raw:
        known = ", ".join(sorted(parser.sections())) or "none"
        raise InputError(f"no koji profile {name!r} (profiles found: {known}; files read: {', '.join(read) or 'none'})")
    return _profile(name, raw, tuple(read))


def _profile(name: str, raw: Mapping[str, str], read: Tuple[str, ...]) -> KojiProfile:
    def where(key: str) -> str:
        return f"koji profile {name!r} ({', '.join(read) or 'backend options'}): [{name}] {key}"

    # keys the koji CLI knows but stream-build does not use are ignored, as koji ignores ours
    if not raw.get("server", "").strip():
        raise InputError(f"koji profile {name!r} has no 'server' (the hub's XML-RPC URL)")
    kwargs: Dict[str, object] = {"name": name, "sources": read}
    for key in ("server", "weburl", "topurl"):
        if raw.get(key):
            url = raw[key].strip()
            try:
                values.check_url(url, key, schemes=("https", "http"))
            except InputError as exc:
                raise InputError(f"{where(key)}: {exc.message}") from None
            kwargs[key] = url.rstrip("/")
    for key in ("principal", "user", "password"):
        if key in raw:
            kwargs[key] = raw[key].strip()
    for key in _PATHS:
        if raw.get(key, "").strip():
            kwargs[key] = os.path.expanduser(raw[key].strip())
    for key, default in (("cert", "~/.koji/client.crt"), ("serverca", "~/.koji/serverca.crt")):
        if key not in kwargs and os.path.exists(os.path.expanduser(default)):
            kwargs[key] = os.path.expanduser(default)
    for key in _KOJI_INTS:
        if key in raw:
            try:
                number = int(raw[key])
            except ValueError:
                raise InputError(f"{where(key)}: {raw[key]!r} is not a whole number (koji reads it as one)") from None
            if number < 0:
                raise InputError(f"{where(key)}: must not be negative")
            kwargs[key] = number
    for ours, theirs in _OURS.items():
        if ours in raw:
            try:
                seconds = float(raw[ours])
            except ValueError:
                raise InputError(f"{where(ours)}: {raw[ours]!r} is not a number") from None
            if not seconds >= 0:
                raise InputError(f"{where(ours)}: must not be negative")
            kwargs[theirs] = seconds
    for key in ("no_ssl_verify", *_KOJI_BOOLS):
        if key in raw and raw[key].strip().lower() not in configparser.ConfigParser.BOOLEAN_STATES:
            raise InputError(f"{where(key)}: {raw[key]!r} is not a boolean (yes/no, true/false, on/off, 1/0)")
    if "no_ssl_verify" in raw:
        kwargs["no_ssl_verify"] = configparser.ConfigParser.BOOLEAN_STATES[raw["no_ssl_verify"].strip().lower()]
    kwargs["authtype"] = _authtype(raw, kwargs, where)
    if "streambuild_target" in raw:
        kwargs["target"] = values.check_name(raw["streambuild_target"].strip(), "streambuild_target")
    if "target" in raw:
        kwargs["target"] = values.check_name(raw["target"].strip(), "build target")
    profile = KojiProfile(**kwargs)  # type: ignore[arg-type]
    if profile.authtype == "password" and not (profile.user and profile.password is not None):
        raise InputError(f"koji profile {name!r}: authtype password needs 'user' and 'password'")
    if profile.authtype == "ssl" and not profile.cert:
        raise InputError(f"koji profile {name!r}: authtype ssl needs 'cert'")
    return profile


def _authtype(raw: Mapping[str, str], kwargs: Mapping[str, object], where: Any) -> str:
    """The profile's authtype; without one, what koji's activate_session would choose."""
    text = (raw.get("authtype") or "").strip().lower()
    if text:
        if text not in AUTHTYPES:
            raise InputError(f"{where('authtype')}: {text!r} is not one of {', '.join(AUTHTYPES)}")
        return "gssapi" if text == "kerberos" else text
    if kwargs.get("cert") and os.path.isfile(str(kwargs["cert"])):
        return "ssl"
    if kwargs.get("user"):
        return "password"
    return "gssapi"
