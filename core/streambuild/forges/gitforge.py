"""The ``git`` forge: a self-hosted dist-git where the user may push. The branch is made by pushing.

The start point (``--from``, the forge's ``start_point``, else the repository's default
branch) is resolved over ``git ls-remote``, fetched into a temporary bare repository,
and pushed as the new branch with ``--force-with-lease=refs/heads/<branch>:`` (an
empty expected value: the push fails rather than move a branch that appeared in the
meantime). Every git call goes through :mod:`streambuild.gitops`.
"""

from __future__ import annotations

import tempfile
from typing import Any, Dict, Mapping, Optional, Tuple

from .. import gitops, values
from ..errors import InputError, SourceError
from ..forgeconfig import ForgeSettings
from ..http import HttpSettings
from . import CREATED, EXISTS, BranchRequest, RequestResult, Ticket


class GitForge:
    """Branches pushed straight to ``push_url`` (default: ``dist_git``)."""

    def __init__(self, settings: ForgeSettings, http: HttpSettings = HttpSettings()) -> None:
        if not settings.dist_git:
            raise InputError(f"forge {settings.name!r} (git) needs 'dist_git' in the config file, or --dist-git")
        self.settings = settings
        self._refs: Dict[str, Dict[str, str]] = {}

    def push_url(self, package: str) -> str:
        return f"{self.settings.push_url or self.settings.dist_git}{values.check_name(package)}.git"

    def _remote_refs(self, package: str, fresh: bool = False) -> Dict[str, str]:
        if fresh or package not in self._refs:
            url = self.repo_url(package)
            try:
                self._refs[package] = gitops.ls_remote(url)
            except SourceError as exc:
                raise SourceError(f"package {package!r}: no dist-git repository can be read at {url}: "
                                  f"{exc.message}") from None
        return self._refs[package]

    # -- ForgeBackend ------------------------------------------------------------

    def repo_url(self, package: str) -> str:
        return self.settings.repo_url(package)

    def branches(self, package: str) -> Dict[str, Optional[str]]:
        refs = self._remote_refs(package, fresh=True)
        return {ref[len("refs/heads/"):]: oid for ref, oid in refs.items() if ref.startswith("refs/heads/")}

    def needs_token(self) -> bool:
        return False

    def find_ticket(self, request: BranchRequest) -> Optional[Ticket]:
        return None  # nobody else creates branches here

    def ticket(self, ticket: Ticket) -> Ticket:
        raise InputError("a git forge has no tickets")

    def start(self, request: BranchRequest) -> Tuple[str, str]:
        """The start point's name and commit (default: the branch the repository's HEAD names)."""
        refs = self._remote_refs(request.package)
        name = request.start_point or self.settings.start_point
        if name is None:
            if "HEAD" not in refs:
                raise InputError(f"{self.repo_url(request.package)} has no default branch (HEAD); give --from REF")
            return "HEAD", refs["HEAD"]
        try:
            resolved = gitops.resolve(self.repo_url(request.package), name, refs)
        except SourceError as exc:
            raise InputError(f"start point: {exc.message}") from None
        return name, resolved.commit

    def _push_args(self, request: BranchRequest, commit: str) -> Tuple[str, ...]:
        ref = f"refs/heads/{values.check_ref(request.branch, 'branch')}"
        return ("push", "--porcelain", f"--force-with-lease={ref}:", "--end-of-options",
                self.push_url(request.package), f"{values.check_commit(commit)}:{ref}")

    def prepare(self, request: BranchRequest) -> Mapping[str, Any]:
        name, commit = self.start(request)
        return {"method": "git push", "url": self.push_url(request.package), "start_point": name,
                "commit": commit, "command": ["git", *self._push_args(request, commit)]}

    def submit(self, request: BranchRequest) -> RequestResult:
        name, commit = self.start(request)
        where = self.push_url(request.package)
        with tempfile.TemporaryDirectory(prefix="stream-build-branch-") as tmp:
            full_ref = f"refs/heads/{name}" if f"refs/heads/{name}" in self._refs[request.package] else None
            git_dir = gitops.fetch_commit(tmp, self.repo_url(request.package), commit, full_ref)
            try:
                gitops.run_git(list(self._push_args(request, commit)), git_dir=git_dir, what=f"pushing to {where}")
            except SourceError as exc:
                if request.branch in self.branches(request.package):  # created by someone else meanwhile
                    return RequestResult(EXISTS, request.package, request.branch, self.settings.name,
                                         f"{request.package} already has branch {request.branch}")
                raise SourceError(f"cannot create branch {request.branch} of {request.package}: {exc.message}") from None
        return RequestResult(CREATED, request.package, request.branch, self.settings.name,
                             f"created branch {request.branch} of {request.package} at {commit[:12]} "
                             f"(from {name}) in {where}", url=where, commit=commit, request=self.prepare(request))
