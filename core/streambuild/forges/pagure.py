"""Pagure: Fedora's branch-request flow today, and src.fedoraproject.org's access lists.

The documented Pagure API 0 calls used (``Authorization: token <TOKEN>``; errors are
JSON ``{"error": ..., "error_code": ...}``, e.g. ``404 ENOPROJECT``, ``401 EINVALIDTOK``):

* ``GET  <dist_git_api>/api/0/<namespace>/<package>/git/branches``: ``{"branches": [...],
  "total_branches": N}``; 404 when the package does not exist;
* ``GET  <dist_git_api>/api/0/<namespace>/<package>?expand_group=1``: the project, with
  ``access_users`` (``owner``, ``admin``, ``commit``, ``collaborator``, ``ticket`` lists),
  ``access_groups`` (same levels) and, asked for, ``group_details`` (group -> members);
* ``GET  <url>/api/0/<requests_repo>/issues?status=Open&page=N&per_page=100``: open
  tickets (``issues``, each with ``id``, ``title``, ``content``, ``status``) and
  ``pagination`` (``page``, ``pages``, ``next``);
* ``GET  <url>/api/0/<requests_repo>/issue/<id>``: one ticket (``status``, ``close_status``);
* ``POST <url>/api/0/<requests_repo>/new_issue`` with ``title`` and ``issue_content``:
  files a ticket, answering ``{"issue": {"id": N, ...}, "message": "Issue created"}``.

For Fedora, ``<url>`` is pagure.io, ``<requests_repo>`` ``releng/fedora-scm-requests`` and
the ticket is the ``new_branch`` document of :class:`~streambuild.forges.BranchRequest`,
which release engineering's tooling acts on (it creates the branch, then closes the
ticket). The dist-git API is read anonymously: the token is only sent to ``<url>``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, Iterator, Mapping, Optional
from urllib.parse import quote

from .. import values
from ..errors import InputError
from ..forgeconfig import ForgeSettings
from ..errors import ForgeUnavailable
from ..http import HttpSettings, JsonClient
from . import REQUESTED, BranchRequest, RequestResult, Ticket

MAX_PAGES = 100  # 10,000 open tickets: more means something is wrong


@dataclass(frozen=True)
class ProjectAccess:
    """Who may do what on one Pagure project (user names by access level)."""

    users: Mapping[str, FrozenSet[str]]  # level -> users
    groups: Mapping[str, FrozenSet[str]]  # level -> groups
    group_members: Mapping[str, FrozenSet[str]]  # group -> users (from group_details)

    def levels_of(self, user: str) -> FrozenSet[str]:
        """Every access level ``user`` holds on the project, directly or as a member of a group."""
        levels = {level for level, names in self.users.items() if user in names}
        for level, groups in self.groups.items():
            if any(user in self.group_members.get(g, frozenset()) for g in groups):
                levels.add(level)
        return frozenset(levels)


class PagureForge:
    """Branch requests as tickets in a Pagure project; branches and ACLs from the dist-git Pagure."""

    def __init__(self, settings: ForgeSettings, http: HttpSettings = HttpSettings()) -> None:
        if not settings.url or not settings.requests_repo:
            raise InputError(f"forge {settings.name!r} (pagure) needs 'url' and 'requests_repo' in the config file")
        self.settings = settings
        self.requests = JsonClient(f"{settings.url}/api/0/", "Pagure", settings.token_value(), http)
        self.dist_git = JsonClient(f"{settings.dist_git_api or settings.url}/api/0/", "Pagure", None, http)

    def _project_path(self, package: str) -> str:
        return f"{quote(self.settings.namespace)}/{quote(values.check_name(package))}"

    def _not_found(self, package: str, answer: Any) -> InputError:
        code = answer.get("error_code") if isinstance(answer, dict) else None
        detail = f" ({code})" if code else ""
        return InputError(f"package {package!r} does not exist on {self.dist_git.base_url}: "
                          f"no project {self.settings.namespace}/{package}{detail}")

    # -- ForgeBackend ------------------------------------------------------------

    def repo_url(self, package: str) -> str:
        return self.settings.repo_url(package)

    def branches(self, package: str) -> Dict[str, Optional[str]]:
        answer = self.dist_git.get(f"{self._project_path(package)}/git/branches")
        if answer.status == 404:
            raise self._not_found(package, answer.data)
        names = answer.data.get("branches") if isinstance(answer.data, dict) else None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ForgeUnavailable(f"Pagure answered {answer.url} without a 'branches' list")
        return {name: None for name in names}

    def needs_token(self) -> bool:
        return True

    def find_ticket(self, request: BranchRequest) -> Optional[Ticket]:
        for issue in self._open_issues():
            if request.is_ticket(issue.get("title"), issue.get("content")):
                return self._ticket(issue)
        return None

    def ticket(self, ticket: Ticket) -> Ticket:
        answer = self.requests.get(f"{self.settings.requests_repo}/issue/{quote(ticket.id)}")
        if answer.status == 404 or not isinstance(answer.data, dict):
            raise InputError(f"ticket {ticket.url} does not exist (any more)")
        return self._ticket(answer.data)

    def prepare(self, request: BranchRequest) -> Mapping[str, Any]:
        return self.requests.prepare("POST", self._new_issue_path(), body=self._payload(request)).to_json()

    def submit(self, request: BranchRequest) -> RequestResult:
        answer = self.requests.post(self._new_issue_path(), self._payload(request))
        if answer.status == 404:
            raise InputError(f"Pagure has no project {self.settings.requests_repo} at {self.settings.url} "
                             "(check requests_repo in the config file)")
        issue = answer.data.get("issue") if isinstance(answer.data, dict) else None
        if not isinstance(issue, dict) or "id" not in issue:
            raise ForgeUnavailable(f"Pagure answered {answer.url} without the new ticket ('issue' with an 'id')")
        ticket = self._ticket(issue)
        return RequestResult(REQUESTED, request.package, request.branch, self.settings.name,
                             f"requested branch {request.branch} of {request.namespace}/{request.package}: {ticket.url}",
                             url=ticket.url, request=self.prepare(request))

    # -- access lists ------------------------------------------------------------

    def access(self, package: str) -> Optional[ProjectAccess]:
        """The project's access lists, or None if the package is not on this Pagure."""
        answer = self.dist_git.get(self._project_path(package), {"expand_group": 1})
        if answer.status == 404:
            return None
        data = answer.data if isinstance(answer.data, dict) else {}
        if not isinstance(data.get("access_users"), dict):
            raise ForgeUnavailable(f"Pagure answered {answer.url} without 'access_users'")

        def table(raw: Any) -> Dict[str, FrozenSet[str]]:
            if not isinstance(raw, dict):
                return {}
            return {str(k): frozenset(str(n) for n in v) for k, v in raw.items() if isinstance(v, list)}

        return ProjectAccess(table(data["access_users"]), table(data.get("access_groups")),
                             table(data.get("group_details")))

    # -- helpers -----------------------------------------------------------------

    def _new_issue_path(self) -> str:
        return f"{self.settings.requests_repo}/new_issue"

    @staticmethod
    def _payload(request: BranchRequest) -> Dict[str, str]:
        return {"title": request.title, "issue_content": request.body}

    def _ticket(self, issue: Mapping[str, Any]) -> Ticket:
        number = str(issue.get("id"))
        status = str(issue.get("status", "Open"))
        close_status = issue.get("close_status")
        return Ticket(number, f"{self.settings.url}/{self.settings.requests_repo}/issue/{number}",
                      status == "Open", str(close_status) if close_status else None)

    def _open_issues(self) -> Iterator[Mapping[str, Any]]:
        for page in range(1, MAX_PAGES + 1):
            answer = self.requests.get(f"{self.settings.requests_repo}/issues",
                                       {"status": "Open", "page": page, "per_page": 100})
            if answer.status == 404:
                raise InputError(f"Pagure has no project {self.settings.requests_repo} at {self.settings.url} "
                                 "(check requests_repo in the config file)")
            data = answer.data if isinstance(answer.data, dict) else {}
            issues = data.get("issues")
            if not isinstance(issues, list):
                raise ForgeUnavailable(f"Pagure answered {answer.url} without an 'issues' list")
            yield from (i for i in issues if isinstance(i, dict))
            pagination: Dict[str, Any] = data["pagination"] if isinstance(data.get("pagination"), dict) else {}
            pages = pagination.get("pages")
            if not issues or not isinstance(pages, int) or page >= pages:
                return
