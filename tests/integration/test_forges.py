"""Branch requests and commit rights against loopback servers speaking Pagure's and Forgejo's APIs.

Neither forge can run here, so each test starts an HTTP server on 127.0.0.1 that implements
the documented endpoints stream-build uses (request and response shapes, status and error
codes, pagination, ``Authorization: token``) and records every request, so the tests assert
on exactly what was sent. Faults (500, 429 with Retry-After, invalid JSON) are injected per
endpoint. Upstream is a real git repository with release tags.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from conftest import cli
from streambuild import forgeconfig
from streambuild.policy import acl
from streambuild.forges import parse_ticket
from streambuild.errors import ForgeAuthError
from streambuild.plugins import make_plugins
from streambuild.policy import PolicyComponent

pytestmark = pytest.mark.integration

TOKEN = "s3cret-token"
FORGEJO_TOKEN = "fj-writer-token"
READER_TOKEN = "fj-reader-token"


# -- the servers -----------------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    query: Dict[str, str]
    headers: Dict[str, str]
    body: Any
    at: float


@dataclass
class Fault:
    method: str
    path: str
    status: int
    times: int
    headers: Dict[str, str] = field(default_factory=dict)
    raw: bytes = b'{"error": "Internal Server Error"}'


class LoopbackForge:
    """An HTTP server on 127.0.0.1 recording requests; subclasses answer ``route``."""

    def __init__(self) -> None:
        self.seen: List[Seen] = []
        self.faults: List[Fault] = []
        self.lock = threading.Lock()
        forge = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body: Any = None
                if raw:
                    if (self.headers.get("Content-Type") or "").startswith("application/json"):
                        body = json.loads(raw)
                    else:
                        body = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                request = Seen(self.command, unquote(parts.path), query, {k.lower(): v for k, v in self.headers.items()},
                               body, time.monotonic())
                with forge.lock:
                    forge.seen.append(request)
                    status, headers, payload = forge._answer(request)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> "LoopbackForge":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def fail(self, method: str, path: str, status: int, times: int = 1, headers: Optional[Dict[str, str]] = None,
             raw: bytes = b'{"error": "Internal Server Error"}') -> None:
        self.faults.append(Fault(method, path, status, times, headers or {}, raw))

    def _answer(self, request: Seen) -> Tuple[int, Dict[str, str], Any]:
        for fault in self.faults:
            if fault.times and fault.method == request.method and fault.path == request.path:
                fault.times -= 1
                return fault.status, fault.headers, fault.raw
        return self.route(request)

    def route(self, request: Seen) -> Tuple[int, Dict[str, str], Any]:
        raise NotImplementedError

    def calls(self, method: Optional[str] = None) -> List[Tuple[str, str]]:
        return [(s.method, s.path) for s in self.seen if method in (None, s.method)]


class FakePagure(LoopbackForge):
    """Pagure API 0: projects with access lists and branches, and a tickets project (fedora-scm-requests)."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens = {TOKEN: "jdoe"}
        self.projects: Dict[str, Dict[str, Any]] = {
            "rpms/tinytorch": {
                "access_users": {"owner": ["owner1"], "admin": ["admin1"], "commit": ["jdoe"],
                                 "collaborator": ["collab1"], "ticket": ["reporter"]},
                "access_groups": {"admin": [], "commit": ["python-sig"], "collaborator": [], "ticket": []},
                "branches": ["rawhide", "f44", "release-2.10", "release-2.11"],
            },
        }
        self.groups = {"python-sig": ["sigmember"]}
        self.issues: List[Dict[str, Any]] = []
        self.process_after: Optional[int] = None  # tickets are acted on after this many branch listings
        self.close_as: Optional[str] = None  # ...or closed with this status instead
        self.branch_listings = 0

    def error(self, status: int, code: str, message: str) -> Tuple[int, Dict[str, str], Any]:
        return status, {}, {"error": message, "error_code": code}

    def route(self, r: Seen) -> Tuple[int, Dict[str, str], Any]:
        parts = r.path.strip("/").split("/")
        if parts[:2] != ["api", "0"]:
            return self.error(404, "ENOCODE", "Not found")
        parts = parts[2:]
        if r.method == "GET" and len(parts) == 4 and parts[2:] == ["git", "branches"]:
            project = self.projects.get("/".join(parts[:2]))
            if project is None:
                return self.error(404, "ENOPROJECT", "Project not found")
            self.branch_listings += 1
            self._process()
            return 200, {}, {"total_branches": len(project["branches"]), "branches": project["branches"]}
        if r.method == "GET" and len(parts) == 2:
            project = self.projects.get("/".join(parts))
            if project is None:
                return self.error(404, "ENOPROJECT", "Project not found")
            out = {"name": parts[1], "namespace": parts[0], "fullname": "/".join(parts),
                   "access_users": project["access_users"], "access_groups": project["access_groups"]}
            if r.query.get("expand_group") == "1":
                out["group_details"] = {g: self.groups.get(g, []) for level in project["access_groups"].values()
                                        for g in level}
            return 200, {}, out
        if parts[:2] != ["releng", "fedora-scm-requests"]:
            return self.error(404, "ENOPROJECT", "Project not found")
        if r.method == "GET" and parts[2:] == ["issues"]:
            return self._list_issues(r)
        if r.method == "GET" and len(parts) == 4 and parts[2] == "issue":
            for issue in self.issues:
                if str(issue["id"]) == parts[3]:
                    return 200, {}, issue
            return self.error(404, "ENOISSUE", "Issue not found")
        if r.method == "POST" and parts[2:] == ["new_issue"]:
            auth = r.headers.get("authorization", "")
            if not auth.startswith("token ") or auth[len("token "):] not in self.tokens:
                return self.error(401, "EINVALIDTOK", "Invalid or expired token. Please visit "
                                  f"{self.url}/settings#nav-api-tab to get or renew your API token.")
            body = r.body or {}
            if not body.get("title") or not body.get("issue_content"):
                return self.error(400, "EINVALIDREQ", "Invalid or incomplete input submitted")
            issue = {"id": len(self.issues) + 1, "title": body["title"], "content": body["issue_content"],
                     "status": "Open", "close_status": None, "user": {"name": self.tokens[auth[6:]]}}
            self.issues.append(issue)
            return 200, {}, {"issue": issue, "message": "Issue created"}
        return self.error(404, "ENOCODE", "Not found")

    def _list_issues(self, r: Seen) -> Tuple[int, Dict[str, str], Any]:
        status = r.query.get("status", "Open")
        page, per_page = int(r.query.get("page", 1)), int(r.query.get("per_page", 20))
        if per_page < 1 or per_page > 100:
            return self.error(400, "EINVALIDPERPAGEVALUE", "The per_page value must be between 1 and 100")
        chosen = [i for i in self.issues if status.lower() == "all" or i["status"] == status]
        pages = max(1, -(-len(chosen) // per_page))
        items = chosen[(page - 1) * per_page:page * per_page]
        return 200, {}, {"total_issues": len(items), "issues": items, "args": {"status": status},
                         "pagination": {"page": page, "pages": pages, "per_page": per_page,
                                        "next": f"{self.url}{r.path}?page={page + 1}" if page < pages else None,
                                        "prev": None, "first": None, "last": None}}

    def _process(self) -> None:
        """Release engineering's tooling: after a while, create requested branches and close the tickets."""
        if self.process_after is None or self.branch_listings < self.process_after:
            return
        for issue in self.issues:
            document = parse_ticket(issue["content"])
            if issue["status"] == "Open" and document and document.get("action") == "new_branch":
                if self.close_as is None:
                    self.projects[f"{document['namespace']}/{document['repo']}"]["branches"].append(document["branch"])
                issue["status"], issue["close_status"] = "Closed", self.close_as or "Processed"


class FakeForgejo(LoopbackForge):
    """Forgejo API v1: repositories with branches, collaborators' permissions, issues. Pages cap at 2 items."""

    MAX_ITEMS = 2

    def __init__(self) -> None:
        super().__init__()
        self.tokens = {FORGEJO_TOKEN: "jdoe", READER_TOKEN: "guest"}
        self.users = {"jdoe", "guest", "maintainer"}
        self.repos: Dict[str, Dict[str, Any]] = {
            "rpms/tinytorch": {"default_branch": "rawhide", "issues": [],
                               "branches": {"rawhide": "a" * 40, "f44": "b" * 40, "release-2.10": "c" * 40,
                                            "release-2.11": "d" * 40, "zzz-old": "e" * 40},
                               "collaborators": {"jdoe": "write", "maintainer": "admin"}},
            "releng/fedora-scm-requests": {"default_branch": "main", "issues": [], "branches": {"main": "f" * 40},
                                           "collaborators": {}},
        }

    def error(self, status: int, message: str, path: str) -> Tuple[int, Dict[str, str], Any]:
        return status, {}, {"message": message, "url": f"{self.url}/api/swagger"}

    def _doer(self, r: Seen) -> Tuple[Optional[str], bool]:
        auth = r.headers.get("authorization")
        if auth is None:
            return None, True
        token = auth[len("token "):] if auth.startswith("token ") else ""
        return self.tokens.get(token), token in self.tokens

    def _page(self, items: List[Any], r: Seen) -> Tuple[int, Dict[str, str], Any]:
        page = int(r.query.get("page", 1))
        limit = min(int(r.query.get("limit", self.MAX_ITEMS)), self.MAX_ITEMS)
        return 200, {"X-Total-Count": str(len(items))}, items[(page - 1) * limit:page * limit]

    def route(self, r: Seen) -> Tuple[int, Dict[str, str], Any]:
        doer, valid = self._doer(r)
        if not valid:
            return self.error(401, "user does not exist [uid: 0, name: ]; invalid token", r.path)
        parts = r.path.strip("/").split("/")
        if parts[:3] != ["api", "v1", "repos"] or len(parts) < 5:
            return self.error(404, "not found", r.path)
        key, rest = f"{parts[3]}/{parts[4]}", parts[5:]
        repo = self.repos.get(key)
        if repo is None:
            return self.error(404, "The target couldn't be found.", r.path)
        level = repo["collaborators"].get(doer or "", "read")
        can_push = level in ("write", "admin", "owner")
        if r.method == "GET" and not rest:
            return 200, {}, {"full_name": key, "name": parts[4], "default_branch": repo["default_branch"],
                             "permissions": {"admin": level == "admin", "push": can_push, "pull": True}}
        if rest == ["branches"] and r.method == "GET":
            items = [{"name": n, "commit": {"id": c}, "protected": False} for n, c in sorted(repo["branches"].items())]
            return self._page(items, r)
        if rest == ["branches"] and r.method == "POST":
            if doer is None:
                return self.error(401, "token is required", r.path)
            if not can_push:
                return self.error(403, "user should have a permission to write to the target branch", r.path)
            name, start = (r.body or {}).get("new_branch_name"), (r.body or {}).get("old_ref_name")
            if not name:
                return self.error(422, "[NewBranchName]: Required", r.path)
            if name in repo["branches"]:
                return self.error(409, "The branch already exists.", r.path)
            start = start or repo["default_branch"]
            if start not in repo["branches"]:
                return self.error(404, "The old branch does not exist", r.path)
            repo["branches"][name] = repo["branches"][start]
            return 201, {}, {"name": name, "commit": {"id": repo["branches"][name]}, "protected": False}
        if len(rest) == 3 and rest[0] == "collaborators" and rest[2] == "permission" and r.method == "GET":
            user = rest[1]
            if doer is None:
                return self.error(401, "token is required", r.path)
            if doer != user and repo["collaborators"].get(doer) not in ("admin", "owner"):
                return self.error(403, "Only admins can query all permissions, repo admins can query all repo "
                                  "permissions, collaborators can query only their own", r.path)
            if user not in self.users:
                return self.error(404, f"user redirect does not exist [name: {user}]", r.path)
            permission = repo["collaborators"].get(user, "read")
            return 200, {}, {"permission": permission, "role_name": permission, "user": {"login": user}}
        if rest == ["issues"] and r.method == "GET":
            state = r.query.get("state", "open")
            return self._page([i for i in repo["issues"] if state == "all" or i["state"] == state], r)
        if len(rest) == 2 and rest[0] == "issues" and r.method == "GET":
            for issue in repo["issues"]:
                if str(issue["number"]) == rest[1]:
                    return 200, {}, issue
            return self.error(404, "issue not found", r.path)
        if rest == ["issues"] and r.method == "POST":
            if doer is None:
                return self.error(401, "token is required", r.path)
            body = r.body or {}
            if not body.get("title"):
                return self.error(422, "[Title]: Required", r.path)
            number = len(repo["issues"]) + 1
            issue = {"id": 1000 + number, "number": number, "title": body["title"], "body": body.get("body", ""),
                     "state": "open", "html_url": f"{self.url}/{key}/issues/{number}", "user": {"login": doer}}
            repo["issues"].append(issue)
            return 201, {}, issue
        return self.error(404, "not found", r.path)


# -- fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def upstream(tmp_path_factory) -> str:
    """A real upstream git repository with release tags for series 2.10, 2.11 and 2.12."""
    root = tmp_path_factory.mktemp("upstream")
    work, bare = root / "work", root / "tinytorch.git"
    env = {"GIT_AUTHOR_NAME": "u", "GIT_AUTHOR_EMAIL": "u@example.invalid", "GIT_COMMITTER_NAME": "u",
           "GIT_COMMITTER_EMAIL": "u@example.invalid", "GIT_CONFIG_GLOBAL": "/dev/null", "PATH": "/usr/bin:/bin"}
    run = lambda *a: subprocess.run(["git", *a], cwd=work, env=env, check=True, capture_output=True)  # noqa: E731
    work.mkdir()
    run("init", "-q", "-b", "main")
    for version in ("2.10.0", "2.11.0", "2.12.0"):
        (work / "VERSION").write_text(version)
        run("add", "VERSION")
        run("commit", "-q", "-m", version)
        run("tag", f"v{version}")
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(bare)], check=True, capture_output=True)
    return f"file://{bare}"


@pytest.fixture
def pagure():
    with FakePagure() as server:
        yield server


@pytest.fixture
def forgejo():
    with FakeForgejo() as server:
        yield server


def write_config(path: Path, pagure: Optional[FakePagure] = None, forgejo: Optional[FakeForgejo] = None,
                 extra: str = "") -> Path:
    text = '[http]\nretries = 2\nbackoff = 0.01\nmax_wait = 5\ntimeout = 10\n'
    if pagure:
        text += (f'[forges.pagure]\nurl = "{pagure.url}"\ndist_git_api = "{pagure.url}"\n'
                 'dist_git = "file:///nonexistent/rpms/"\ntoken_env = "TEST_PAGURE_TOKEN"\n')
    if forgejo:
        text += f'[forges.forgejo]\nurl = "{forgejo.url}"\ntoken_env = "TEST_FORGEJO_TOKEN"\n'
    path.write_text(text + extra)
    return path


@pytest.fixture
def pagure_config(tmp_path, pagure, monkeypatch) -> Path:
    monkeypatch.setenv("TEST_PAGURE_TOKEN", TOKEN)
    return write_config(tmp_path / "forges.toml", pagure=pagure)


@pytest.fixture
def forgejo_config(tmp_path, forgejo, monkeypatch) -> Path:
    monkeypatch.setenv("TEST_FORGEJO_TOKEN", FORGEJO_TOKEN)
    return write_config(tmp_path / "forges.toml", forgejo=forgejo)


def request(config: Path, *args: str, forge: str = "pagure", name: str = "tinytorch", series: str = "release-2.12"):
    return cli("branch", "request", name, series, "--forge", forge, "--config", str(config), *args)


# -- Pagure: the request Fedora's tooling reads ------------------------------------------


def test_pagure_request_is_exactly_what_fedora_tooling_reads(pagure, pagure_config, upstream):
    out = request(pagure_config, "--upstream", upstream, "--json")
    assert out.code == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["state"] == "requested"
    assert result["url"] == f"{pagure.url}/releng/fedora-scm-requests/issue/1"
    assert pagure.calls() == [
        ("GET", "/api/0/rpms/tinytorch/git/branches"),
        ("GET", "/api/0/releng/fedora-scm-requests/issues"),
        ("POST", "/api/0/releng/fedora-scm-requests/new_issue"),
    ]
    branches_call, issues_call, post = pagure.seen
    assert "authorization" not in branches_call.headers  # the token only goes to the tickets' Pagure
    assert issues_call.query == {"status": "Open", "page": "1", "per_page": "100"}
    assert post.headers["authorization"] == f"token {TOKEN}"
    assert post.headers["content-type"] == "application/json" and post.headers["accept"] == "application/json"
    assert set(post.body) == {"title", "issue_content"}
    assert post.body["title"] == 'New Branch "release-2.12" for "rpms/tinytorch"'
    content = post.body["issue_content"]
    assert content.startswith("```\n") and content.endswith("\n```")
    assert json.loads(content[4:-4]) == {"action": "new_branch", "repo": "tinytorch", "namespace": "rpms",
                                         "branch": "release-2.12", "create_git_branch": True}
    assert TOKEN not in out.stdout + out.stderr


def test_pagure_requests_are_idempotent(pagure, pagure_config, upstream):
    assert request(pagure_config, "--upstream", upstream).code == 0
    again = request(pagure_config, "--upstream", upstream, "--json")
    assert again.code == 0, again.stderr
    assert json.loads(again.stdout)["state"] == "pending"
    assert json.loads(again.stdout)["url"].endswith("/releng/fedora-scm-requests/issue/1")
    assert len(pagure.calls("POST")) == 1 and len(pagure.issues) == 1
    # once the branch exists, nothing else is even looked at
    pagure.projects["rpms/tinytorch"]["branches"].append("release-2.12")
    del pagure.seen[:]
    done = request(pagure_config, "--upstream", upstream)
    assert done.code == 0 and "already has branch release-2.12" in done.stdout
    assert pagure.calls() == [("GET", "/api/0/rpms/tinytorch/git/branches")]


def test_pagure_open_requests_are_found_on_later_pages(pagure, pagure_config, upstream):
    for n in range(1, 151):
        pagure.issues.append({"id": n, "title": f"New Repo for \"rpms/pkg{n}\"", "content": "```\n{}\n```",
                              "status": "Open", "close_status": None})
    pagure.issues.append({"id": 151, "title": "anything", "status": "Open", "close_status": None,
                          "content": '```\n{"action": "new_branch", "repo": "tinytorch", "namespace": "rpms", '
                                     '"branch": "release-2.12", "create_git_branch": true}\n```'})
    out = request(pagure_config, "--upstream", upstream, "--json")
    assert out.code == 0, out.stderr
    assert json.loads(out.stdout)["url"].endswith("/issue/151")
    pages = [s.query["page"] for s in pagure.seen if s.path.endswith("/issues")]
    assert pages == ["1", "2"] and not pagure.calls("POST")


def test_pagure_dry_run_sends_nothing_and_hides_the_token(pagure, pagure_config, upstream):
    out = request(pagure_config, "--upstream", upstream, "--dry-run")
    assert out.code == 0, out.stderr
    assert "would send: POST " + f"{pagure.url}/api/0/releng/fedora-scm-requests/new_issue" in out.stdout
    assert "Authorization: token ***" in out.stdout and TOKEN not in out.stdout
    assert '"issue_content"' in out.stdout and "new_branch" in out.stdout
    assert not pagure.calls("POST")
    as_json = json.loads(request(pagure_config, "--upstream", upstream, "--dry-run", "--json").stdout)
    assert as_json["state"] == "dry-run" and as_json["request"]["body"]["title"].startswith("New Branch")


def test_pagure_dry_run_needs_no_token(pagure, tmp_path, upstream, monkeypatch):
    monkeypatch.delenv("TEST_PAGURE_TOKEN", raising=False)
    config = write_config(tmp_path / "f.toml", pagure=pagure)
    out = request(config, "--upstream", upstream, "--dry-run")
    assert out.code == 0, out.stderr
    assert "Authorization" not in out.stdout


@pytest.mark.parametrize("series", ["f44", "rawhide", "main"])
def test_fedora_branch_names_are_refused_before_anything_is_sent(pagure, pagure_config, series):
    out = request(pagure_config, series=series)
    assert out.code == 2
    assert f"{series!r} is one of Fedora's own branch names" in out.stderr and "release-3.11" in out.stderr
    assert pagure.seen == []


@pytest.mark.parametrize("name, series, words", [
    ("tinytorch;id", "release-2.12", "package name 'tinytorch;id' is not valid"),
    ("--upload-pack=touch /tmp/x", "release-2.12", "package name '--upload-pack=touch /tmp/x' is not valid"),
    ("tinytorch", "release-2.12;rm -rf ~", "series 'release-2.12;rm -rf ~' is not a valid git ref"),
    ("tinytorch", "$(touch x)", "series '$(touch x)' is not a valid git ref"),
])
def test_names_with_shell_or_option_characters_are_refused(pagure, pagure_config, name, series, words):
    out = cli("branch", "request", "--config", str(pagure_config), "--forge", "pagure", "--", name, series)
    assert out.code == 2 and words in out.stderr
    assert pagure.seen == []


def test_pagure_unknown_package(pagure, pagure_config, upstream):
    out = request(pagure_config, "--upstream", upstream, name="no-such-package")
    assert out.code == 2
    assert "package 'no-such-package' does not exist" in out.stderr and "ENOPROJECT" in out.stderr
    assert not pagure.calls("POST")


def test_a_series_upstream_lacks_is_refused(pagure, pagure_config, upstream):
    out = request(pagure_config, "--upstream", upstream, series="release-9.99")
    assert out.code == 2
    assert "has no release of series 9.99" in out.stderr and "found series: 2.12, 2.11, 2.10" in out.stderr
    assert not pagure.calls("POST")


def test_missing_token_is_refused_before_anything_is_sent(pagure, tmp_path, upstream, monkeypatch):
    monkeypatch.delenv("TEST_PAGURE_TOKEN", raising=False)
    out = request(write_config(tmp_path / "f.toml", pagure=pagure), "--upstream", upstream)
    assert out.code == 2
    assert "no API token for forge 'pagure'" in out.stderr and "$TEST_PAGURE_TOKEN" in out.stderr
    assert pagure.seen == []


def test_wrong_token(pagure, pagure_config, upstream, monkeypatch):
    monkeypatch.setenv("TEST_PAGURE_TOKEN", "not-the-token")
    out = request(pagure_config, "--upstream", upstream)
    assert out.code == 2
    assert "refused the token" in out.stderr and "EINVALIDTOK" in out.stderr and "not-the-token" not in out.stderr
    assert pagure.seen[-1].headers["authorization"] == "token not-the-token" and not pagure.issues


def test_token_on_the_command_line_is_not_an_option(pagure_config):
    out = request(pagure_config, "--token", TOKEN)
    assert out.code == 2 and "No such option: --token" in out.stderr


def test_a_forge_answering_500_is_retried_for_reads_then_reported(pagure, pagure_config, upstream):
    pagure.fail("GET", "/api/0/rpms/tinytorch/git/branches", 500, times=10)
    out = request(pagure_config, "--upstream", upstream)
    assert out.code == 4
    assert "Pagure answered 500" in out.stderr and "after 3 attempts" in out.stderr
    assert pagure.calls() == [("GET", "/api/0/rpms/tinytorch/git/branches")] * 3  # retries = 2 in the config


def test_a_post_answered_500_is_not_repeated(pagure, pagure_config, upstream):
    pagure.fail("POST", "/api/0/releng/fedora-scm-requests/new_issue", 500, times=10)
    out = request(pagure_config, "--upstream", upstream)
    assert out.code == 4 and "Pagure answered 500" in out.stderr
    assert len(pagure.calls("POST")) == 1  # the server may have acted: never a duplicate ticket


def test_429_waits_as_long_as_retry_after_says(pagure, pagure_config, upstream):
    pagure.fail("POST", "/api/0/releng/fedora-scm-requests/new_issue", 429, headers={"Retry-After": "1"},
                raw=b'{"error": "Too Many Requests"}')
    out = request(pagure_config, "--upstream", upstream, "--json")
    assert out.code == 0, out.stderr
    posts = [s for s in pagure.seen if s.method == "POST"]
    assert len(posts) == 2 and posts[1].at - posts[0].at >= 0.95
    assert len(pagure.issues) == 1


def test_429_asking_for_too_long_a_wait_fails_at_once(pagure, pagure_config, upstream):
    pagure.fail("GET", "/api/0/rpms/tinytorch/git/branches", 429, headers={"Retry-After": "3600"}, times=5)
    started = time.monotonic()
    out = request(pagure_config, "--upstream", upstream)
    assert out.code == 4 and "asks to wait 3600 s" in out.stderr
    assert time.monotonic() - started < 30 and len(pagure.seen) == 1


def test_invalid_json_from_the_forge(pagure, pagure_config, upstream):
    pagure.fail("GET", "/api/0/rpms/tinytorch/git/branches", 200, raw=b"<html>Welcome to the proxy</html>")
    out = request(pagure_config, "--upstream", upstream)
    assert out.code == 4
    assert "not JSON" in out.stderr and "Welcome to the proxy" in out.stderr


def test_an_unreachable_forge(tmp_path, upstream, monkeypatch):
    monkeypatch.setenv("TEST_PAGURE_TOKEN", TOKEN)
    dead = FakePagure()  # bound, never served: connections are refused
    dead.server.server_close()
    out = request(write_config(tmp_path / "f.toml", pagure=dead), "--upstream", upstream)
    assert out.code == 4 and "cannot reach Pagure" in out.stderr


def test_pagure_status_follows_the_request_until_the_branch_exists(pagure, pagure_config, upstream):
    assert request(pagure_config, "--upstream", upstream).code == 0
    pagure.process_after = pagure.branch_listings + 3
    out = cli("branch", "status", "tinytorch", "release-2.12", "--forge", "pagure", "--config", str(pagure_config),
              "--interval", "0.1", "--timeout", "30", "--json")
    assert out.code == 0, out.stderr
    assert json.loads(out.stdout)["state"] == "exists"
    assert pagure.issues[0]["status"] == "Closed"
    assert pagure.branch_listings >= 3


def test_pagure_status_reports_a_request_closed_without_the_branch(pagure, pagure_config, upstream):
    assert request(pagure_config, "--upstream", upstream).code == 0
    pagure.process_after, pagure.close_as = pagure.branch_listings + 2, "Invalid"
    out = cli("branch", "status", "tinytorch", "release-2.12", "--forge", "pagure", "--config", str(pagure_config),
              "--interval", "0.1", "--timeout", "30")
    assert out.code == 1
    assert "issue/1 was closed as 'Invalid' without creating release-2.12 of tinytorch" in out.stderr
    no_wait = cli("branch", "status", "tinytorch", "release-2.11", "--forge", "pagure", "--config",
                  str(pagure_config), "--nowait")
    assert no_wait.code == 0 and "has branch release-2.11" in no_wait.stdout


def test_pagure_status_times_out(pagure, pagure_config, upstream):
    assert request(pagure_config, "--upstream", upstream).code == 0
    out = cli("branch", "status", "tinytorch", "release-2.12", "--forge", "pagure", "--config", str(pagure_config),
              "--interval", "0.2", "--timeout", "0.5")
    assert out.code == 1
    assert "release-2.12 of tinytorch still does not exist after 0.5 s; the request is open" in out.stderr


def test_pagure_branch_list(pagure, pagure_config):
    out = cli("branch", "list", "tinytorch", "--forge", "pagure", "--config", str(pagure_config), "--json")
    assert out.code == 0, out.stderr
    rows = json.loads(out.stdout)["branches"]
    assert [(r["branch"], r["series"]) for r in rows] == [
        ("release-2.11", "2.11"), ("release-2.10", "2.10"), ("f44", None), ("rawhide", None)]


# -- Pagure access lists -----------------------------------------------------------------


def component(name: str = "tinytorch", url: Optional[str] = None) -> PolicyComponent:
    return PolicyComponent(name, "dist-git", url or f"https://src.example/rpms/{name}.git", "release-2.11", "1" * 40)


def test_pagure_commit_rights_from_the_access_lists(pagure):
    rights = acl.from_spec(f"pagure:{pagure.url}")
    assert rights is not None
    answers = {user: rights(user, component()) for user in
               ("owner1", "admin1", "jdoe", "sigmember", "collab1", "reporter", "stranger")}
    assert answers == {"owner1": True, "admin1": True, "jdoe": True, "sigmember": True,  # through python-sig
                       "collab1": None, "reporter": False, "stranger": False}
    assert rights("jdoe", component("not-on-pagure")) is None
    project_calls = [s for s in pagure.seen if s.path == "/api/0/rpms/tinytorch"]
    assert project_calls[0].query == {"expand_group": "1"}
    assert len(project_calls) == 7 and rights.asked == 8
    rights("jdoe", component())  # cached for the run: not asked again
    assert len([s for s in pagure.seen if s.path == "/api/0/rpms/tinytorch"]) == 7


# -- Forgejo ----------------------------------------------------------------------------


def forgejo_request(config: Path, *args: str, series: str = "release-2.12", name: str = "tinytorch"):
    return request(config, *args, forge="forgejo", series=series, name=name)


def test_forgejo_creates_the_branch_through_the_branch_api(forgejo, forgejo_config, upstream):
    out = forgejo_request(forgejo_config, "--upstream", upstream, "--from", "release-2.11", "--json")
    assert out.code == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["state"] == "created" and result["commit"] == "d" * 40
    assert forgejo.calls() == [
        ("GET", "/api/v1/repos/rpms/tinytorch"),
        ("GET", "/api/v1/repos/rpms/tinytorch/branches"),
        ("GET", "/api/v1/repos/rpms/tinytorch/branches"),
        ("GET", "/api/v1/repos/rpms/tinytorch/branches"),
        ("POST", "/api/v1/repos/rpms/tinytorch/branches"),
    ]
    pages = [s.query for s in forgejo.seen if s.path.endswith("/branches") and s.method == "GET"]
    assert pages == [{"page": "1", "limit": "50"}, {"page": "2", "limit": "50"}, {"page": "3", "limit": "50"}]
    post = forgejo.seen[-1]
    assert post.body == {"new_branch_name": "release-2.12", "old_ref_name": "release-2.11"}
    assert post.headers["authorization"] == f"token {FORGEJO_TOKEN}"
    assert forgejo.repos["rpms/tinytorch"]["branches"]["release-2.12"] == "d" * 40
    again = forgejo_request(forgejo_config, "--upstream", upstream)
    assert again.code == 0 and "already has branch release-2.12" in again.stdout
    assert len(forgejo.calls("POST")) == 1


def test_forgejo_branch_made_meanwhile_is_reported_not_an_error(forgejo, forgejo_config, upstream):
    forgejo.fail("POST", "/api/v1/repos/rpms/tinytorch/branches", 409, raw=b'{"message": "The branch already exists."}')
    out = forgejo_request(forgejo_config, "--upstream", upstream, "--json")
    assert out.code == 0 and json.loads(out.stdout)["state"] == "exists"


def test_forgejo_start_point_that_does_not_exist(forgejo, forgejo_config, upstream):
    out = forgejo_request(forgejo_config, "--upstream", upstream, "--from", "release-1.0")
    assert out.code == 2 and "start point release-1.0 does not exist" in out.stderr


def test_forgejo_without_push_rights_files_an_issue_once(forgejo, tmp_path, upstream, monkeypatch):
    monkeypatch.setenv("TEST_FORGEJO_TOKEN", READER_TOKEN)
    config = write_config(tmp_path / "f.toml", forgejo=forgejo)
    out = forgejo_request(config, "--upstream", upstream, "--json")
    assert out.code == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["state"] == "requested"
    assert result["url"] == f"{forgejo.url}/releng/fedora-scm-requests/issues/1"
    post = forgejo.seen[-1]
    assert (post.method, post.path) == ("POST", "/api/v1/repos/releng/fedora-scm-requests/issues")
    assert post.body["title"] == 'New Branch "release-2.12" for "rpms/tinytorch"'
    assert parse_ticket(post.body["body"]) == {"action": "new_branch", "repo": "tinytorch", "namespace": "rpms",
                                               "branch": "release-2.12", "create_git_branch": True}
    assert "release-2.12" not in forgejo.repos["rpms/tinytorch"]["branches"]
    again = forgejo_request(config, "--upstream", upstream, "--json")
    assert json.loads(again.stdout)["state"] == "pending"
    listing = [s for s in forgejo.seen if s.path.endswith("fedora-scm-requests/issues") and s.method == "GET"][-1]
    assert listing.query["state"] == "open" and listing.query["type"] == "issues"
    assert len(forgejo.calls("POST")) == 1


def test_forgejo_unknown_package_and_wrong_token(forgejo, forgejo_config, upstream, monkeypatch):
    out = forgejo_request(forgejo_config, "--upstream", upstream, name="no-such-package")
    assert out.code == 2 and "package 'no-such-package' does not exist" in out.stderr
    monkeypatch.setenv("TEST_FORGEJO_TOKEN", "wrong")
    out = forgejo_request(forgejo_config, "--upstream", upstream)
    assert out.code == 2 and "refused the token" in out.stderr and "401" in out.stderr
    assert not forgejo.calls("POST")


def test_forgejo_commit_rights_from_collaborator_permission(forgejo, tmp_path, monkeypatch):
    forgejo.tokens["maintainer-token"] = "maintainer"  # a repository admin may ask about anyone
    monkeypatch.setenv("TEST_FORGEJO_TOKEN", "maintainer-token")
    config = forgeconfig.load(str(write_config(tmp_path / "f.toml", forgejo=forgejo, extra='[acl]\nsource = "forgejo"\n')))
    rights = acl.from_config(config, make_plugins(load_entry_points=False))
    assert rights is not None
    here = component(url=f"{forgejo.url}/rpms/tinytorch.git")
    answers = {u: rights(u, here) for u in ("jdoe", "maintainer", "guest", "ghost")}
    assert answers == {"jdoe": True, "maintainer": True, "guest": False, "ghost": False}
    asked = [s.path for s in forgejo.seen if s.path.endswith("/permission")]
    assert asked == [f"/api/v1/repos/rpms/tinytorch/collaborators/{u}/permission" for u in answers]
    assert all(s.headers["authorization"] == "token maintainer-token" for s in forgejo.seen)
    assert rights("jdoe", component("elsewhere", url="https://src.example/rpms/elsewhere.git")) is None
    assert rights("jdoe", component("not-here", url=f"{forgejo.url}/rpms/not-here.git")) is None


def test_forgejo_permission_of_others_needs_an_admin_token(forgejo, tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_FORGEJO_TOKEN", READER_TOKEN)
    config = forgeconfig.load(str(write_config(tmp_path / "f.toml", forgejo=forgejo, extra='[acl]\nsource = "forgejo"\n')))
    rights = acl.from_config(config, make_plugins(load_entry_points=False))
    assert rights is not None
    with pytest.raises(ForgeAuthError, match="403"):
        rights("jdoe", component(url=f"{forgejo.url}/rpms/tinytorch.git"))


def test_dist_git_moves_where_pagures_branches_are_read(pagure, tmp_path, monkeypatch):
    """``--dist-git`` of another Pagure moves its API too: the branch list is read there, never from the
    configured (here: an unreachable) dist_git_api."""
    config = tmp_path / "forges.toml"
    config.write_text('[http]\nretries = 0\ntimeout = 5\n[forges.pagure]\nurl = "http://127.0.0.1:9/"\n'
                      'dist_git_api = "http://127.0.0.1:9"\ndist_git = "https://src.fedoraproject.org/rpms/"\n')
    out = cli("branch", "list", "tinytorch", "--forge", "pagure", "--config", str(config), "--json",
              "--dist-git", f"{pagure.url}/rpms/")
    assert out.code == 0, out.stderr
    assert [r["branch"] for r in json.loads(out.stdout)["branches"]][:2] == ["release-2.11", "release-2.10"]
    assert [path for _m, path in pagure.calls("GET") if path.startswith("/api/0/rpms/tinytorch")] != []
    ssh = cli("branch", "list", "tinytorch", "--forge", "pagure", "--config", str(config),
              "--dist-git", "ssh://pkgs.example.org/rpms/")
    assert ssh.code == 2 and "reads branches from Pagure's API on the dist-git host" in ssh.stderr
