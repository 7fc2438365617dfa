"""Commit rights: may this user commit to this component's dist-git repository?

The stream policy "the submitter has commit rights on every dist-git component"
(DESIGN.md §5) asks one of these sources:

* :class:`PagureAcl`: the project's access lists on a Pagure dist-git
  (src.fedoraproject.org): ``owner``, ``admin`` and ``commit`` give commit rights,
  directly or through a group; ``collaborator`` access is limited to some branches,
  which the API does not list, so it answers "cannot tell". Fedora's provenpackagers
  are not on the lists, so their status is not enough, as the policy wants;
* :class:`ForgejoAcl`: the collaborator permission on a Forgejo repository
  (``write``, ``admin`` or ``owner`` give commit rights);
* :class:`FileAcl`: a plain file, one package per line followed by the users who may
  commit (``*`` for every package; ``#`` starts a comment)::

      python3.11   jdoe  asmith
      python-torch jdoe
      *            releng-bot

Each source answers True, False or None ("cannot tell": the package is not on that
forge or not in the file). :class:`CommitRights` makes a source the
:data:`streambuild.policy.CommitRights` callable the rules use, asking once per
user and package in a run.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, FrozenSet, Optional, Protocol, Set, Tuple

from .. import values
from ..errors import InputError, Location
from ..forgeconfig import Config, ForgeSettings
from ..forges import make_forge
from ..forges.forgejo import WRITE_PERMISSIONS, ForgejoForge
from ..forges.pagure import PagureForge
from ..http import HttpSettings
from . import PolicyComponent

COMMIT_LEVELS = frozenset({"owner", "admin", "commit"})


class AclSource(Protocol):
    description: str

    def rights(self, user: str, package: str) -> Optional[bool]:
        """True or False when the source knows; None when it cannot tell."""


class PagureAcl:
    """Access lists of a Pagure dist-git (``GET /api/0/<namespace>/<package>?expand_group=1``)."""

    def __init__(self, forge: PagureForge) -> None:
        self.forge = forge
        self.description = f"the access lists of {forge.dist_git.base_url}"

    def rights(self, user: str, package: str) -> Optional[bool]:
        access = self.forge.access(package)
        if access is None:
            return None
        levels = access.levels_of(user)
        if levels & COMMIT_LEVELS:
            return True
        if "collaborator" in levels:
            return None  # commit on some branches only; the API does not say which
        return False


class ForgejoAcl:
    """Collaborator permission on a Forgejo repository."""

    def __init__(self, forge: ForgejoForge) -> None:
        self.forge = forge
        self.description = f"the collaborators of {forge.settings.url}/{forge.settings.namespace}"

    def rights(self, user: str, package: str) -> Optional[bool]:
        try:
            self.forge.repository(package)
        except InputError:
            return None  # not on this forge
        permission = self.forge.permission(package, user)
        if permission is None:
            return False  # no such user: no rights
        return permission in WRITE_PERMISSIONS


class FileAcl:
    """Commit rights listed in a plain file (see the module docstring)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.description = f"the ACL file {path}"
        self.table: Dict[str, FrozenSet[str]] = _read_acl_file(path)

    def rights(self, user: str, package: str) -> Optional[bool]:
        listed = package in self.table
        if user in self.table.get(package, frozenset()) or user in self.table.get("*", frozenset()):
            return True
        return False if listed else None


def _read_acl_file(path: str) -> Dict[str, FrozenSet[str]]:
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.read().splitlines()
    except FileNotFoundError:
        raise InputError("ACL file not found", Location(path)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read ACL file: {exc}", Location(path)) from None
    table: Dict[str, Set[str]] = {}
    for number, line in enumerate(lines, 1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        where = Location(path, number)
        if len(words) < 2:
            raise InputError(f"expected a package and the users who may commit to it, not {line.strip()!r}", where)
        package = words[0] if words[0] == "*" else values.check_name(words[0], "package name", where)
        users = {values.check_name(u, "user name", where) for u in words[1:]}
        table.setdefault(package, set()).update(users)
    return {k: frozenset(v) for k, v in table.items()}


class CommitRights:
    """A :data:`streambuild.policy.CommitRights` callable over one source, cached for one run.

    Only dist-git components are asked about; with ``prefix`` only those whose
    repository URL starts with it (the source's dist-git), others get None.
    """

    def __init__(self, source: AclSource, prefix: Optional[str] = None) -> None:
        self.source = source
        self.prefix = prefix
        self._cache: Dict[Tuple[str, str], Optional[bool]] = {}
        self._lock = threading.Lock()
        self.asked = 0  # how many times the source was asked (the cache's effect, for tests and logs)

    def __call__(self, user: str, component: PolicyComponent) -> Optional[bool]:
        if component.source_type != "dist-git":
            return None
        if self.prefix and not component.url.startswith(self.prefix):
            return None
        key = (user, component.name)
        with self._lock:
            if key in self._cache:
                return self._cache[key]
        answer = self.source.rights(values.check_name(user, "user"), component.name)
        with self._lock:
            self._cache[key] = answer
            self.asked += 1
        return answer


def from_spec(spec: str, http: HttpSettings = HttpSettings()) -> Optional[CommitRights]:
    """A source from a one-line setting (for other config formats, e.g. the Koji hub plugin's):
    ``none``, ``file:PATH``, ``pagure:URL`` (a Pagure dist-git, namespace ``rpms``) or
    ``forgejo:URL`` (owner ``rpms``)."""
    kind, _, rest = spec.strip().partition(":")
    if kind == "none" and not rest:
        return None
    if kind == "file" and rest:
        return CommitRights(FileAcl(rest))
    if kind in ("pagure", "forgejo") and rest:
        url = values.check_url(rest, f"{kind} ACL URL", schemes=("https", "http")).rstrip("/")
        if kind == "pagure":
            settings = ForgeSettings("acl", "pagure", url=url, requests_repo="-/-", dist_git_api=url)
            return CommitRights(PagureAcl(PagureForge(settings, http)))
        return CommitRights(ForgejoAcl(ForgejoForge(ForgeSettings("acl", "forgejo", url=url), http)))
    raise InputError(f"ACL source {spec!r} must be 'none', 'file:PATH', 'pagure:URL' or 'forgejo:URL'")


def from_config(config: Config, plugins: Any, acl_file: Optional[str] = None) -> Optional[CommitRights]:
    """The commit-rights source the config names (``[acl] source``), or the file given; None for ``none``."""
    if acl_file:
        return CommitRights(FileAcl(acl_file))
    if config.acl_source == "none":
        return None
    if config.acl_source == "file":
        assert config.acl_file is not None  # checked when the config was read
        return CommitRights(FileAcl(config.acl_file))
    settings = config.forge(config.acl_source)
    forge = make_forge(plugins, settings, config.http)
    if isinstance(forge, PagureForge):
        return CommitRights(PagureAcl(forge), settings.dist_git)
    if isinstance(forge, ForgejoForge):
        return CommitRights(ForgejoAcl(forge), settings.dist_git or f"{settings.url}/{settings.namespace}/")
    raise InputError(f"forge {settings.name!r} (type {settings.type}) has no access lists to check commit rights with")
