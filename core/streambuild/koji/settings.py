"""The streambuild plugins' configuration file (hub and builders read the same format).

``/etc/koji-hub/plugins/streambuild.conf`` on the hub, ``/etc/kojid/plugins/streambuild.conf``
on builders; ``$STREAMBUILD_HUB_CONFIG`` overrides the path. A missing file gives the
defaults; unknown sections and keys are errors naming the file and the key.

Where stream sources may come from (:meth:`HubSettings.check_source_url`): a URL's
scheme must be in ``allowed_schemes`` (https only by default) and its host in
``allowed_scm_hosts``, where ``host`` allows the scheme's default port only and
``host:PORT`` or ``host:*`` name the other ports allowed; URLs carrying user information
(``user:password@``, ``token@``) are refused, and so is anything that is not plain ASCII.
"""

from __future__ import annotations

import configparser
import fnmatch
import os
import re
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Optional, Tuple
from urllib.parse import urlsplit

from .. import policy as policy_mod
from .. import values
from ..errors import InputError, Location, PolicyDenied

DEFAULT_CONFIG = "/etc/koji-hub/plugins/streambuild.conf"
CONFIG_ENV = "STREAMBUILD_HUB_CONFIG"



@dataclass(frozen=True)
class HubSettings:
    """``/etc/koji-hub/plugins/streambuild.conf`` (``$STREAMBUILD_HUB_CONFIG`` overrides the path)."""

    allowed_scm_hosts: Tuple[str, ...] = ("src.fedoraproject.org", "pkgs.fedoraproject.org")
    allowed_schemes: Tuple[str, ...] = ("https",)
    channel: Optional[str] = None
    max_components: int = 1000
    topurl: Optional[str] = None  # where builders fetch task outputs (default: file://<KojiDir>)
    acl: str = "none"  # streambuild.policy.acl.from_spec: "none", "file:PATH", "pagure:URL", "forgejo:URL"
    series_pattern: str = policy_mod.DEFAULT_SERIES_PATTERN
    approved_macros: FrozenSet[str] = frozenset()
    # builder side (read by the builder plugin from the same file format)
    verify_commits: bool = True
    repo_poll_interval: float = 6.0
    git_cache: str = "/var/cache/kojid/streambuild"
    source: str = DEFAULT_CONFIG

    def scm_host_allowed(self, url: str) -> bool:
        """Whether ``url``'s scheme and host (with its port, if it names one) are allowed."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return False
        if parts.scheme not in self.allowed_schemes or parts.username is not None or "@" in parts.netloc:
            return False
        host = (parts.hostname or "").lower()
        default = DEFAULT_PORTS.get(parts.scheme)
        if port is None or port == default:
            if any(fnmatch.fnmatchcase(host, p) for p in self.allowed_scm_hosts if ":" not in p):
                return True
            port = default  # "host:*" and "host:<default port>" allow the default port too
        return port is not None and any(fnmatch.fnmatchcase(f"{host}:{port}", p) for p in self.allowed_scm_hosts)

    def check_source_url(self, value: Any, field: str) -> str:
        """A component's SCM or lookaside URL, or an :class:`InputError` (Koji's ParameterError) naming ``field``."""
        if not isinstance(value, str) or not value:
            raise InputError(f"{field} must be a non-empty string")
        if not value.isascii() or not value.isprintable():
            raise InputError(f"{field} {value!r} has characters other than printable ASCII")
        try:
            parts = urlsplit(value)
            port = parts.port
        except ValueError as exc:
            raise InputError(f"{field} {value!r} is not a valid URL: {exc}") from None
        if parts.username is not None or "@" in parts.netloc:
            raise InputError(f"{field} {value!r} carries user information (user:password@ or token@); "
                             "credentials never go into a stream's URLs")
        try:
            values.check_url(value, field)
        except InputError as exc:
            raise InputError(exc.message) from None
        if parts.scheme != "file" and not parts.hostname:
            raise InputError(f"{field} {value!r} has no host")
        if not self.scm_host_allowed(value):
            shown = f"{parts.hostname}:{port}" if port is not None else parts.hostname or "no host"
            raise PolicyDenied(f"{field}: allowed-scm-host: {value} is not on an allowed SCM host and port "
                               f"({shown}; this hub allows {', '.join(self.allowed_scm_hosts) or 'none'} "
                               f"over {', '.join(self.allowed_schemes)})")
        return value


DEFAULT_PORTS = {"https": 443, "http": 80, "git": 9418, "ssh": 22}


def load_settings(path: Optional[str] = None) -> HubSettings:
    """Read the plugin's config file; a missing file gives the defaults. Errors name file and key."""
    path = path or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG
    if not os.path.exists(path):
        return HubSettings(source=f"{path} (missing: defaults)")
    parser = configparser.RawConfigParser()
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle, source=path)
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        raise InputError(f"cannot read the streambuild plugin config: {exc}", Location(path)) from None
    known = {
        "general": {"allowed_scm_hosts", "allowed_schemes", "channel", "max_components", "topurl"},
        "policy": {"acl", "series_pattern", "approved_macros"},
        "builder": {"verify_commits", "repo_poll_interval", "git_cache"},
    }
    kwargs: Dict[str, Any] = {"source": path}
    for section in parser.sections():
        if section not in known:
            raise InputError(f"unknown section [{section}] (known: {', '.join(known)})", Location(path))
        for key, value in parser.items(section):
            if key not in known[section]:
                raise InputError(f"[{section}] unknown key {key!r}", Location(path))
            kwargs[key] = _setting(key, value.strip(), f"{path}: [{section}] {key}")
    return HubSettings(**kwargs)


def _setting(key: str, value: str, where: str) -> Any:
    if key in ("allowed_scm_hosts", "allowed_schemes"):
        return tuple(value.replace(",", " ").split())
    if key == "approved_macros":
        names = value.replace(",", " ").split()
        for name in names:
            values.check_macro_name(name)
        return frozenset(names)
    if key == "max_components":
        try:
            return int(value)
        except ValueError:
            raise InputError(f"{where}: {value!r} is not a number") from None
    if key == "repo_poll_interval":
        try:
            return float(value)
        except ValueError:
            raise InputError(f"{where}: {value!r} is not a number") from None
    if key == "verify_commits":
        if value.lower() not in ("yes", "no", "true", "false", "1", "0", "on", "off"):
            raise InputError(f"{where}: {value!r} is not a boolean")
        return value.lower() in ("yes", "true", "1", "on")
    if key == "series_pattern":
        try:
            re.compile(value)
        except re.error as exc:
            raise InputError(f"{where}: not a regular expression: {exc}") from None
    if key == "topurl":
        return values.check_url(value, "topurl", schemes=("https", "http", "file")).rstrip("/")
    if key == "acl" and not (value == "none" or value.startswith(("file:", "pagure:", "forgejo:"))):
        raise InputError(f"{where}: {value!r} must be 'none', 'file:PATH', 'pagure:URL' or 'forgejo:URL'")
    return value or None


