"""Forge backends: how a release-series branch of a dist-git repository is asked for.

A forge backend is a plugin registered by type (``registry.add_forge(kind, factory)``,
``factory(settings, http_settings)``); the built-ins are :mod:`.pagure` (Fedora's
flow today: a ticket in ``releng/fedora-scm-requests``), :mod:`.forgejo` (where
Fedora's dist-git is moving: the branch API when the user may push, else an issue
in a requests repository) and :mod:`.gitforge` (a self-hosted dist-git where the
user has push rights). The orchestration (validation, the upstream series check,
idempotency, following a request) is in :mod:`streambuild.branches`; backends only
speak their forge's protocol.

The ticket body is the JSON document Fedora's tooling (fedscm-admin, toddlers)
reads from a ``new_branch`` request, between Markdown code fences, as fedpkg's
``request-branch`` files it: ``action``, ``repo``, ``namespace``, ``branch`` and
``create_git_branch``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Dict, Mapping, Optional, Protocol

from ..forgeconfig import ForgeSettings
from ..http import HttpSettings

# What became of a request (RequestResult.state) or where it stands (BranchStatus.state).
CREATED = "created"  # the branch exists now: this run made it
REQUESTED = "requested"  # a ticket was filed; someone else creates the branch
EXISTS = "exists"  # the branch was already there: nothing sent
PENDING = "pending"  # an open ticket already asks for it: nothing sent
DRY_RUN = "dry-run"  # nothing sent; ``request`` is what would be
MISSING = "missing"  # no branch and no open ticket
CLOSED = "closed"  # the ticket was closed without the branch being made


@dataclass(frozen=True)
class BranchRequest:
    """A release-series branch asked for: ``namespace/package`` gets ``branch`` (from ``start_point``)."""

    package: str
    branch: str
    namespace: str = "rpms"
    start_point: Optional[str] = None  # git and forgejo: branch, tag or commit to start from

    def ticket(self) -> Dict[str, Any]:
        """The ``new_branch`` document Fedora's branch-request tooling reads."""
        return {
            "action": "new_branch",
            "repo": self.package,
            "namespace": self.namespace,
            "branch": self.branch,
            "create_git_branch": True,
        }

    @property
    def title(self) -> str:
        return f'New Branch "{self.branch}" for "{self.namespace}/{self.package}"'

    @property
    def body(self) -> str:
        return "```\n" + json.dumps(self.ticket(), indent=1, sort_keys=True) + "\n```"

    def is_ticket(self, title: Any, content: Any) -> bool:
        """Whether a ticket with this title and content asks for this same branch."""
        document = parse_ticket(content)
        if document is not None:
            return all(document.get(k) == v for k, v in self.ticket().items() if k != "create_git_branch")
        return bool(title == self.title)


_FENCED = re.compile(r"```[A-Za-z]*\s*(.*?)\s*```", re.DOTALL)


def parse_ticket(content: Any) -> Optional[Dict[str, Any]]:
    """The JSON document in a ticket's content (with or without code fences), or None."""
    if not isinstance(content, str):
        return None
    text = content.strip()
    fenced = _FENCED.search(text)  # the first code block (a note may follow it)
    if fenced:
        text = fenced.group(1)
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


@dataclass(frozen=True)
class Ticket:
    """A branch-request ticket on a forge."""

    id: str
    url: str
    open: bool
    close_status: Optional[str] = None


@dataclass(frozen=True)
class RequestResult:
    state: str  # one of the module's states
    package: str
    branch: str
    forge: str
    message: str
    url: Optional[str] = None  # the ticket, or the repository
    commit: Optional[str] = None  # where the branch points, when known
    request: Optional[Mapping[str, Any]] = None  # what was (or, for a dry run, would be) sent

    def to_json(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {"state": self.state, "package": self.package, "branch": self.branch, "forge": self.forge,
                "message": self.message, "url": self.url, "commit": self.commit}
        if self.request is not None:
            data["request"] = dict(self.request)
        return data


class ForgeBackend(Protocol):
    """What :mod:`streambuild.branches` needs from a forge."""

    settings: ForgeSettings

    def repo_url(self, package: str) -> str:
        """The git URL of the package's dist-git repository (to read its spec)."""

    def branches(self, package: str) -> Dict[str, Optional[str]]:
        """Branch name -> head commit (None where the API does not say); InputError if there is no such package."""

    def needs_token(self) -> bool:
        """Whether :meth:`submit` needs an API token (checked before anything is sent)."""

    def find_ticket(self, request: BranchRequest) -> Optional[Ticket]:
        """An open ticket asking for the same branch, or None (always None where there are no tickets)."""

    def ticket(self, ticket: Ticket) -> Ticket:
        """The ticket as it is now."""

    def prepare(self, request: BranchRequest) -> Mapping[str, Any]:
        """What :meth:`submit` would send, secrets hidden (for ``--dry-run``)."""

    def submit(self, request: BranchRequest) -> RequestResult:
        """Create the branch or file the request (after the caller checked it is needed)."""


def make_forge(plugins: Any, settings: ForgeSettings, http: HttpSettings) -> ForgeBackend:
    """The backend for ``settings`` (its ``type`` looked up in the plugin registry)."""
    factory = plugins.registry.forge(settings.type)
    return factory(settings, http)  # type: ignore[no-any-return]
