"""Forgejo: where Fedora's dist-git is moving. The branch API when the user may push, else an issue.

The documented Forgejo API v1 calls used (``Authorization: token <TOKEN>``; errors are
JSON ``{"message": ..., "url": ...}``):

* ``GET  /api/v1/repos/{owner}/{repo}``: the repository; ``permissions`` (``admin``,
  ``push``, ``pull``) are the token user's; 404 when it does not exist;
* ``GET  /api/v1/repos/{owner}/{repo}/branches?page=N&limit=L``: one page of branches
  (``name``, ``commit.id``), the total in the ``X-Total-Count`` header;
* ``POST /api/v1/repos/{owner}/{repo}/branches`` with ``{"new_branch_name", "old_ref_name"}``:
  201 and the branch; 404 when the start point does not exist, 409 when the branch does;
* ``GET  /api/v1/repos/{owner}/{repo}/collaborators/{user}/permission``: ``{"permission":
  "none"|"read"|"write"|"admin"|"owner", "role_name", "user"}``; 404 for an unknown user;
* ``GET  /api/v1/repos/{owner}/{repo}/issues?state=open&type=issues&page=N&limit=L`` and
  ``GET .../issues/{number}``: branch-request issues (``number``, ``title``, ``body``,
  ``state``, ``html_url``);
* ``POST /api/v1/repos/{owner}/{repo}/issues`` with ``{"title", "body"}``: 201 and the issue.

Packages live in the ``namespace`` organisation (``rpms``); requests the user may not
make directly become issues in ``requests_repo`` with the same ``new_branch`` document
Pagure tickets carry.
"""

from __future__ import annotations

from typing import Any, Dict, Iterator, Mapping, Optional, Tuple
from urllib.parse import quote

from .. import values
from ..errors import InputError
from ..forgeconfig import ForgeSettings
from ..errors import ForgeUnavailable
from ..http import HttpSettings, JsonClient
from . import CREATED, EXISTS, REQUESTED, BranchRequest, RequestResult, Ticket

PAGE_SIZE = 50
MAX_PAGES = 200
WRITE_PERMISSIONS = ("write", "admin", "owner")


class ForgejoForge:
    """Branches created through the repository's branch API, or requested by an issue."""

    def __init__(self, settings: ForgeSettings, http: HttpSettings = HttpSettings()) -> None:
        if not settings.url:
            raise InputError(f"forge {settings.name!r} (forgejo) needs 'url' in the config file")
        self.settings = settings
        self.api = JsonClient(f"{settings.url}/api/v1/", "Forgejo", settings.token_value(), http)
        self._repos: Dict[str, Mapping[str, Any]] = {}

    def _repo_path(self, package: str) -> str:
        return f"repos/{quote(self.settings.namespace)}/{quote(values.check_name(package))}"

    def _requests_path(self) -> str:
        if not self.settings.requests_repo:
            raise InputError(f"you may not create branches here, and forge {self.settings.name!r} has no "
                             "requests_repo to ask in (set it in the config file)")
        owner, repo = self.settings.requests_repo.split("/")
        return f"repos/{quote(owner)}/{quote(repo)}"

    # -- ForgeBackend ------------------------------------------------------------

    def repo_url(self, package: str) -> str:
        if self.settings.dist_git:
            return self.settings.repo_url(package)
        return f"{self.settings.url}/{self.settings.namespace}/{values.check_name(package)}.git"

    def repository(self, package: str) -> Mapping[str, Any]:
        """The repository's JSON (cached per run); InputError if it does not exist."""
        if package not in self._repos:
            answer = self.api.get(self._repo_path(package))
            if answer.status == 404 or not isinstance(answer.data, dict):
                raise InputError(f"package {package!r} does not exist on {self.settings.url}: "
                                 f"no repository {self.settings.namespace}/{package}")
            self._repos[package] = answer.data
        return self._repos[package]

    def can_push(self, package: str) -> bool:
        permissions = self.repository(package).get("permissions")
        return bool(isinstance(permissions, dict) and (permissions.get("push") or permissions.get("admin")))

    def branches(self, package: str) -> Dict[str, Optional[str]]:
        self.repository(package)
        found: Dict[str, Optional[str]] = {}
        for item in self._pages(f"{self._repo_path(package)}/branches", {}):
            name = item.get("name")
            commit: Dict[str, Any] = item["commit"] if isinstance(item.get("commit"), dict) else {}
            if isinstance(name, str):
                found[name] = commit.get("id") if isinstance(commit.get("id"), str) else None
        return found

    def needs_token(self) -> bool:
        return True

    def find_ticket(self, request: BranchRequest) -> Optional[Ticket]:
        if self.can_push(request.package):
            return None  # the branch API is used; it refuses a duplicate with 409
        for issue in self._pages(f"{self._requests_path()}/issues", {"state": "open", "type": "issues"}):
            if request.is_ticket(issue.get("title"), issue.get("body")):
                return self._ticket(issue)
        return None

    def ticket(self, ticket: Ticket) -> Ticket:
        answer = self.api.get(f"{self._requests_path()}/issues/{quote(ticket.id)}")
        if answer.status == 404 or not isinstance(answer.data, dict):
            raise InputError(f"issue {ticket.url} does not exist (any more)")
        return self._ticket(answer.data)

    def prepare(self, request: BranchRequest) -> Mapping[str, Any]:
        method, path, body = self._call(request)
        return self.api.prepare(method, path, body=body).to_json()

    def submit(self, request: BranchRequest) -> RequestResult:
        method, path, body = self._call(request)
        answer = self.api.request(method, path, body=body, ok=(201, 409))
        where = f"{request.namespace}/{request.package}"
        if path.endswith("/branches"):
            if answer.status == 409:
                return RequestResult(EXISTS, request.package, request.branch, self.settings.name,
                                     f"{where} already has branch {request.branch}")
            if answer.status == 404:
                raise InputError(f"cannot create {request.branch} in {where}: start point "
                                 f"{request.start_point or 'the default branch'} does not exist")
            commit = answer.data.get("commit") if isinstance(answer.data, dict) else None
            commit_id = commit.get("id") if isinstance(commit, dict) else None
            return RequestResult(CREATED, request.package, request.branch, self.settings.name,
                                 f"created branch {request.branch} of {where}",
                                 url=f"{self.settings.url}/{where}/src/branch/{request.branch}",
                                 commit=commit_id, request=self.prepare(request))
        if answer.status != 201 or not isinstance(answer.data, dict) or "number" not in answer.data:
            raise ForgeUnavailable(f"Forgejo answered {answer.url} with {answer.status} and no new issue")
        ticket = self._ticket(answer.data)
        return RequestResult(REQUESTED, request.package, request.branch, self.settings.name,
                             f"requested branch {request.branch} of {where}: {ticket.url}",
                             url=ticket.url, request=self.prepare(request))

    # -- access ------------------------------------------------------------------

    def permission(self, package: str, user: str) -> Optional[str]:
        """``user``'s permission on the package's repository (``read``, ``write``...); None if no such user."""
        self.repository(package)
        path = f"{self._repo_path(package)}/collaborators/{quote(values.check_name(user, 'user'))}/permission"
        answer = self.api.get(path)
        if answer.status == 404:
            return None
        permission = answer.data.get("permission") if isinstance(answer.data, dict) else None
        if not isinstance(permission, str):
            raise ForgeUnavailable(f"Forgejo answered {answer.url} without a 'permission'")
        return permission

    # -- helpers -----------------------------------------------------------------

    def _call(self, request: BranchRequest) -> Tuple[str, str, Dict[str, Any]]:
        if self.can_push(request.package):
            body: Dict[str, Any] = {"new_branch_name": request.branch}
            if request.start_point:
                body["old_ref_name"] = request.start_point
            return "POST", f"{self._repo_path(request.package)}/branches", body
        text = request.body
        if request.start_point:
            text += f"\n\nPlease start the branch from `{request.start_point}`."
        return "POST", f"{self._requests_path()}/issues", {"title": request.title, "body": text}

    def _ticket(self, issue: Mapping[str, Any]) -> Ticket:
        number = str(issue.get("number"))
        url = issue.get("html_url")
        if not isinstance(url, str):
            url = f"{self.settings.url}/{self.settings.requests_repo}/issues/{number}"
        return Ticket(number, url, issue.get("state", "open") == "open", None)

    def _pages(self, path: str, query: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
        seen = 0
        for page in range(1, MAX_PAGES + 1):
            answer = self.api.get(path, {**query, "page": page, "limit": PAGE_SIZE})
            if answer.status == 404:
                raise InputError(f"Forgejo has no {answer.url}")
            if not isinstance(answer.data, list):
                raise ForgeUnavailable(f"Forgejo answered {answer.url} with something that is not a list")
            yield from (item for item in answer.data if isinstance(item, dict))
            seen += len(answer.data)
            total = answer.header("x-total-count")
            # the server may cap 'limit': the total (or an empty page) says when to stop, not a short page
            if not answer.data or (total.isdigit() and seen >= int(total)):
                return
