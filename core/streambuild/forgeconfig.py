"""The forges config file: where to ask for branches, whose commit rights count, which macros are approved.

Looked up in this order, later files overriding earlier ones key by key:

1. the built-in defaults, which are Fedora's services (:data:`DEFAULTS`);
2. ``/etc/stream-build/forges.toml``;
3. ``$XDG_CONFIG_HOME/stream-build/forges.toml`` (``~/.config/stream-build/forges.toml``).

``$STREAM_BUILD_CONFIG`` or a command's ``--config FILE`` names one file that is read
instead of 2 and 3. The format (TOML)::

    default_forge = "pagure"          # used when --forge is not given
    user = "jdoe"                     # your account on the forge: whose commit rights are checked

    [forges.pagure]                   # one table per forge; "type" picks the backend
    type = "pagure"
    url = "https://pagure.io"                      # hosts the branch-request tickets
    requests_repo = "releng/fedora-scm-requests"
    dist_git_api = "https://src.fedoraproject.org" # the Pagure that hosts the packages
    dist_git = "https://src.fedoraproject.org/rpms/"
    namespace = "rpms"
    token_env = "STREAM_BUILD_PAGURE_TOKEN"        # or: token = "..." (keep the file chmod 600)

    [policy]
    branch_template = "release-{series}"
    approved_macros = ["_with_bootstrap"]
    advisory = ["release-series-branch"]   # build/run preflight warns instead of denying

    [acl]
    source = "pagure"                 # "none", "file", or the name of a forge table
    file = "/etc/stream-build/acl.txt"

    [http]
    retries = 3
    backoff = 1.0

Tokens come from the file or from the environment variable the forge names (the
variable wins); never from the command line, where other users could read them.
Unknown keys and wrong types are errors that name the file and the key.
"""

from __future__ import annotations

import copy
import dataclasses
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Tuple

from . import values
from .errors import InputError, Location
from .http import HttpSettings

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python < 3.11 uses the tomli backport (a dependency there)
    import tomli as tomllib

CONFIG_ENV = "STREAM_BUILD_CONFIG"
SYSTEM_CONFIG = "/etc/stream-build/forges.toml"
FORGE_TYPES = ("pagure", "forgejo", "git")  # the built-in forge types; plugins may add others
SERIES = r"[0-9]+(\.[0-9]+)*"

#: Fedora's services. Forgejo is where Fedora's dist-git is moving; its URL is the
#: announced instance and can be changed in the config file.
DEFAULTS: Dict[str, Any] = {
    "default_forge": "pagure",
    "forges": {
        "pagure": {
            "type": "pagure",
            "url": "https://pagure.io",
            "requests_repo": "releng/fedora-scm-requests",
            "dist_git_api": "https://src.fedoraproject.org",
            "dist_git": "https://src.fedoraproject.org/rpms/",
            "namespace": "rpms",
            "token_env": "STREAM_BUILD_PAGURE_TOKEN",
        },
        "forgejo": {
            "type": "forgejo",
            "url": "https://forge.fedoraproject.org",
            "requests_repo": "releng/fedora-scm-requests",
            "namespace": "rpms",  # dist-git repositories: <url>/<namespace>/<name>.git
            "token_env": "STREAM_BUILD_FORGEJO_TOKEN",
        },
        "git": {
            "type": "git",
            "dist_git": "ssh://pkgs.fedoraproject.org/rpms/",
        },
    },
    "policy": {
        "branch_template": "release-{series}",
        "approved_macros": [],
        "advisory": ["release-series-branch"],
    },
    "acl": {"source": "none"},
    "http": {"retries": 3, "backoff": 1.0, "max_wait": 120.0, "timeout": 30.0},
}

_FORGE_KEYS = {
    "type": str, "url": str, "requests_repo": str, "dist_git_api": str, "dist_git": str, "push_url": str,
    "namespace": str, "start_point": str, "token": str, "token_env": str,
}
_TOP_KEYS = {"default_forge": str, "user": str, "forges": dict, "policy": dict, "acl": dict, "http": dict}
_POLICY_KEYS: Mapping[str, Any] = {"branch_template": str, "approved_macros": list, "advisory": list}
_ACL_KEYS: Mapping[str, Any] = {"source": str, "file": str}
_HTTP_KEYS: Mapping[str, Any] = {"retries": int, "backoff": (int, float), "max_wait": (int, float), "timeout": (int, float)}


@dataclass(frozen=True)
class ForgeSettings:
    """One forge table. URLs are validated; ``dist_git`` and ``push_url`` end with '/'."""

    name: str
    type: str
    url: Optional[str] = None
    requests_repo: Optional[str] = None
    dist_git_api: Optional[str] = None
    dist_git: Optional[str] = None
    push_url: Optional[str] = None
    namespace: str = "rpms"
    start_point: Optional[str] = None
    token: Optional[str] = field(default=None, repr=False)
    token_env: Optional[str] = None

    def token_value(self) -> Optional[str]:
        """The token: the environment variable first, then the file's ``token``; None if neither."""
        if self.token_env and os.environ.get(self.token_env):
            return os.environ[self.token_env].strip()
        return self.token

    def token_hint(self) -> str:
        where = f"${self.token_env} or " if self.token_env else ""
        return f"{where}'token' in [forges.{self.name}] of the config file"

    def repo_url(self, package: str) -> str:
        """The git URL of ``package``'s dist-git repository."""
        if not self.dist_git:
            raise InputError(f"forge {self.name!r} has no dist_git URL (set it in the config file or give --dist-git)")
        return f"{self.dist_git}{values.check_name(package)}.git"


@dataclass(frozen=True)
class PolicySettings:
    branch_template: str = "release-{series}"
    approved_macros: FrozenSet[str] = frozenset()
    advisory: FrozenSet[str] = frozenset({"release-series-branch"})

    @property
    def series_pattern(self) -> str:
        """The regular expression a release-series branch name matches (for :mod:`streambuild.policy`)."""
        prefix, _, suffix = self.branch_template.partition("{series}")
        return re.escape(prefix) + SERIES + re.escape(suffix)


@dataclass(frozen=True)
class Config:
    default_forge: str
    forges: Mapping[str, ForgeSettings]
    policy: PolicySettings
    acl_source: str
    acl_file: Optional[str]
    http: HttpSettings
    user: Optional[str] = None
    sources: Tuple[str, ...] = ()  # the files read, in order

    def forge(self, name: Optional[str] = None) -> ForgeSettings:
        name = name or self.default_forge
        try:
            return self.forges[name]
        except KeyError:
            raise InputError(f"unknown forge {name!r} (configured: {', '.join(sorted(self.forges))})") from None


def override(settings: ForgeSettings, dist_git: Optional[str] = None, forge_url: Optional[str] = None) -> ForgeSettings:
    """``settings`` with ``--dist-git`` and ``--forge-url`` applied.

    ``--dist-git URL`` moves every dist-git URL of the forge, not only where repositories are
    cloned: where pushes go (``push_url``) and, for Pagure, the API branches and access lists
    are read from (``dist_git_api``: the URL without its ``/<namespace>/``, as
    ``https://src.fedoraproject.org`` is for ``https://src.fedoraproject.org/rpms/``).
    """
    changes: Dict[str, Any] = {}
    if dist_git:
        base = values.as_base_url(values.check_url(dist_git, "--dist-git"))
        changes.update(dist_git=base, push_url=None)
        if settings.type == "pagure":
            if not base.startswith(("https://", "http://")):
                raise InputError(f"--dist-git {base}: forge {settings.name!r} reads branches from Pagure's API on the "
                                 "dist-git host, which needs an https or http URL (or set dist_git_api in the config)")
            api = base.rstrip("/")
            if api.endswith("/" + settings.namespace):
                api = api[: -len(settings.namespace) - 1]
            changes["dist_git_api"] = api
    if forge_url:
        changes["url"] = values.check_url(forge_url, "--forge-url", schemes=("https", "http")).rstrip("/")
    return dataclasses.replace(settings, **changes) if changes else settings


def user_config_path() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return os.path.join(base, "stream-build", "forges.toml")


def config_paths(explicit: Optional[str] = None) -> List[str]:
    """The files to read, in order: ``explicit`` or ``$STREAM_BUILD_CONFIG`` alone, else system then user."""
    chosen = explicit or os.environ.get(CONFIG_ENV)
    if chosen:
        if not os.path.isfile(chosen):
            raise InputError("config file not found", Location(chosen))
        return [chosen]
    return [p for p in (SYSTEM_CONFIG, user_config_path()) if os.path.isfile(p)]


def load(path: Optional[str] = None) -> Config:
    """Read the config (see the module docstring); raise InputError naming file and key on mistakes."""
    merged = copy.deepcopy(DEFAULTS)
    merged["_where"] = {}
    read = []
    for source in config_paths(path):
        _merge(merged, _read(source), source)
        read.append(source)
    return _build(merged, tuple(read))


def _read(path: str) -> Dict[str, Any]:
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"not valid TOML: {exc}", Location(path)) from None
    except OSError as exc:
        raise InputError(f"cannot read config file: {exc.strerror}", Location(path)) from None


def _check_table(data: Mapping[str, Any], keys: Mapping[str, Any], where: str, path: str) -> None:
    for key, value in data.items():
        if key not in keys:
            raise InputError(f"unknown key {key!r} in {where} (known: {', '.join(sorted(keys))})", Location(path))
        want = keys[key]
        if isinstance(value, bool) and want is not bool or not isinstance(value, want):
            kinds = want if isinstance(want, tuple) else (want,)
            raise InputError(f"{where}.{key} must be {' or '.join(_KIND[k] for k in kinds)}", Location(path))


_KIND = {str: "a string", int: "an integer", float: "a number", list: "a list", dict: "a table", bool: "true or false"}


def _merge(into: Dict[str, Any], new: Mapping[str, Any], path: str) -> None:
    _check_table(new, _TOP_KEYS, "the config", path)
    for key, value in new.items():
        if key == "forges":
            for name, table in value.items():
                if not isinstance(table, dict):
                    raise InputError(f"forges.{name} must be a table", Location(path))
                if not re.match(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\Z", name):
                    raise InputError(f"forge name {name!r} is not valid: use letters, digits and '_.-'", Location(path))
                _check_table(table, _FORGE_KEYS, f"forges.{name}", path)
                into["forges"].setdefault(name, {}).update(table)
                if "type" not in into["forges"][name]:
                    raise InputError(f"forges.{name} needs a 'type' ({', '.join(FORGE_TYPES)})", Location(path))
                into["_where"][f"forges.{name}"] = path
        elif key in ("policy", "acl", "http"):
            keys: Mapping[str, Any] = {"policy": _POLICY_KEYS, "acl": _ACL_KEYS, "http": _HTTP_KEYS}[key]
            if not isinstance(value, dict):
                raise InputError(f"{key} must be a table", Location(path))
            _check_table(value, keys, key, path)
            into[key].update(value)
        else:
            into[key] = value
        into["_where"][key] = path


def _build(data: Mapping[str, Any], sources: Tuple[str, ...]) -> Config:
    def where(key: str) -> Location:
        return Location(data["_where"].get(key, "<built-in defaults>"))

    forges = {name: _forge(name, table, where(f"forges.{name}")) for name, table in data["forges"].items()}
    default = data["default_forge"]
    if default not in forges:
        raise InputError(f"default_forge {default!r} is not a configured forge ({', '.join(sorted(forges))})",
                         where("default_forge"))
    policy = _policy(data["policy"], where("policy"))
    acl = data["acl"]
    source = acl.get("source", "none")
    if source not in ("none", "file") and source not in forges:
        raise InputError(f"acl.source {source!r} must be 'none', 'file' or a configured forge", where("acl"))
    if source == "file" and not acl.get("file"):
        raise InputError("acl.source 'file' needs acl.file", where("acl"))
    if source in forges and forges[source].type == "git":
        raise InputError(f"acl.source {source!r} is a plain git forge, which has no access lists", where("acl"))
    http = data["http"]
    if http["retries"] < 0 or http["backoff"] < 0 or http["max_wait"] < 0 or http["timeout"] <= 0:
        raise InputError("http: retries, backoff and max_wait must not be negative, timeout must be positive",
                         where("http"))
    user = data.get("user")
    if user is not None:
        values.check_name(user, "user", where("user"))
    return Config(
        default_forge=default,
        forges=forges,
        policy=policy,
        acl_source=source,
        acl_file=os.path.expanduser(acl["file"]) if acl.get("file") else None,
        http=HttpSettings(int(http["retries"]), float(http["backoff"]), float(http["max_wait"]), float(http["timeout"])),
        user=user,
        sources=sources,
    )


def _forge(name: str, table: Mapping[str, Any], where: Location) -> ForgeSettings:
    kind = table.get("type")
    if not isinstance(kind, str) or not re.match(r"[a-z][a-z0-9_-]*\Z", kind):
        raise InputError(f"forges.{name}.type must name a forge type ({', '.join(FORGE_TYPES)}, or a plugin's), "
                         f"not {kind!r}", where)
    urls: Dict[str, Optional[str]] = {}
    for key in ("url", "dist_git_api"):
        value = table.get(key)
        urls[key] = values.check_url(value, f"forges.{name}.{key}", where, ("https", "http")).rstrip("/") if value else None
    for key in ("dist_git", "push_url"):
        value = table.get(key)
        urls[key] = values.as_base_url(values.check_url(value, f"forges.{name}.{key}", where)) if value else None
    namespace = table.get("namespace", "rpms")
    values.check_name(namespace, f"forges.{name}.namespace", where)
    requests_repo = table.get("requests_repo")
    if requests_repo is not None:
        parts = requests_repo.split("/")
        if len(parts) != 2:
            raise InputError(f"forges.{name}.requests_repo must be 'owner/repo', not {requests_repo!r}", where)
        for part in parts:
            values.check_name(part, f"forges.{name}.requests_repo", where)
    start = table.get("start_point")
    if start is not None:
        values.check_ref(start, f"forges.{name}.start_point", where)
    token_env = table.get("token_env")
    if token_env is not None and not re.match(r"[A-Za-z_][A-Za-z0-9_]*\Z", token_env):
        raise InputError(f"forges.{name}.token_env {token_env!r} is not an environment variable name", where)
    if kind in ("pagure", "forgejo") and not urls["url"]:
        raise InputError(f"forges.{name} (type {kind}) needs 'url'", where)
    return ForgeSettings(
        name=name, type=kind, url=urls["url"], requests_repo=requests_repo,
        dist_git_api=urls["dist_git_api"], dist_git=urls["dist_git"], push_url=urls["push_url"],
        namespace=namespace, start_point=start, token=table.get("token"), token_env=token_env,
    )


def _policy(table: Mapping[str, Any], where: Location) -> PolicySettings:
    template = table["branch_template"]
    if template.count("{series}") != 1:
        raise InputError(f"policy.branch_template must contain '{{series}}' once, not {template!r}", where)
    prefix, _, suffix = template.partition("{series}")
    if not re.match(r"[A-Za-z0-9._/-]*\Z", prefix + suffix):
        raise InputError(f"policy.branch_template {template!r} may only use letters, digits and '._/-'", where)
    macros = table["approved_macros"]
    for name in macros:
        if not isinstance(name, str):
            raise InputError("policy.approved_macros must be a list of macro names", where)
        values.check_macro_name(name, where)
    advisory = table["advisory"]
    if any(not isinstance(rule, str) for rule in advisory):
        raise InputError("policy.advisory must be a list of rule names", where)
    return PolicySettings(template, frozenset(macros), frozenset(advisory))
