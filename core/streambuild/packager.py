"""A packager's dist-git checkout inside a stream set: what ``fedpkg-stream stream-build`` does.

A packager works in a clone of one component's dist-git repository, on its
release-series branch. ``fedpkg-stream stream-build`` builds the whole stream set that
contains that component, with *the checkout's commit* for it instead of the
branch's head (the other components keep their locked or resolved commits):

1. :func:`streambuild.manifest.find_manifest` finds the stream set (``--manifest``, else
   ``stream-build.yaml`` in the checkout);
2. :func:`check_checkout` makes sure the set builds this package from the branch the
   checkout is on;
3. :func:`pin_component` replaces the component's commit in the lock, after checking
   with git that the commit is on that branch in dist-git (a stream is built from
   commits that are on a dist-git branch, never from unpushed work);
4. :func:`build_checkout` writes that lock and builds with it (``--locked``), in this
   process or, for ``--nowait`` with a backend that always waits, in a detached
   ``stream-build build`` (:func:`start_detached`, which ``stream-build build --nowait``
   uses too) whose progress ``stream-status --watch`` follows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Mapping, Optional, Tuple

from . import gitops
from . import lock as lock_mod
from . import values
from .build import BuildReport
from .errors import InputError, LockError, SourceError
from .manifest import Manifest

if TYPE_CHECKING:
    from .build import BuildReport
    from .detached import Detached
    from .publish import Published
    from .stream import Stream



def dist_git_base(url: str, name: str) -> Optional[str]:
    """The base URL of a package's dist-git repository URL (``ssh://host/rpms/`` for
    ``ssh://host/rpms/foo.git``); None when ``url`` does not end with the package's name."""
    url = url.strip().rstrip("/")
    for suffix in (f"/{name}.git", f"/{name}"):
        if url.endswith(suffix) and len(url) > len(suffix):
            return url[: -len(suffix)] + "/"
    return None


def check_checkout(manifest: Manifest, name: str, branch: Optional[str]) -> None:
    """The stream set must build ``name`` from the branch the checkout is on."""
    try:
        comp = manifest.component(name)
    except KeyError:
        names = ", ".join(c.name for c in manifest.components)
        raise InputError(f"the stream set {manifest.path} does not contain {name} (it has: {names})") from None
    if comp.source_type != "dist-git":
        raise InputError(f"{manifest.path} builds {name} from upstream git, not from this dist-git checkout")
    if branch is not None and comp.ref != branch:
        raise InputError(
            f"this checkout is on branch {branch}, but {manifest.path} builds {name} from {comp.ref}: "
            f"switch to {comp.ref} or change the stream set"
        )


def pin_component(manifest: Manifest, lock: lock_mod.Lock, name: str, commit: str, git_cache: str) -> lock_mod.Lock:
    """Return ``lock`` with component ``name`` at ``commit`` instead of its branch head.

    The commit must be reachable from the component's ref in its own repository:
    it is fetched from there and checked with ``git merge-base --is-ancestor``.
    """
    values.check_commit(commit, f"commit of {name}")
    comp = manifest.component(name)
    entry = lock.component(name)
    if entry.commit == commit:
        return lock
    try:
        git_dir = gitops.fetch_commit(git_cache, comp.repo_url, entry.commit, entry.resolved)
    except SourceError as exc:
        raise SourceError(f"component {name}: {exc.message}") from None
    if not gitops.has_commit(git_dir, commit):
        try:
            gitops.fetch_commit(git_cache, comp.repo_url, commit, entry.resolved)
        except SourceError:
            raise LockError(f"commit {commit} of {name} is not in {comp.repo_url}: push it to {comp.ref} first") from None
    if not _is_ancestor(git_dir, commit, entry.commit):
        raise LockError(
            f"commit {commit} of {name} is not on {comp.ref} in {comp.repo_url} "
            f"(whose head is {entry.commit}): push it to {comp.ref} first"
        )
    pinned = tuple(
        lock_mod.LockedComponent(c.name, c.type, c.url, c.ref, c.resolved, commit, c.spec_source) if c.name == name else c
        for c in lock.components
    )
    return lock_mod.Lock(lock.base, pinned)


def _is_ancestor(git_dir: str, commit: str, head: str) -> bool:
    try:
        gitops.run_git(["merge-base", "--is-ancestor", "--end-of-options", commit, head], git_dir=git_dir)
        return True
    except SourceError:
        return False


def build_checkout(
    stream: "Stream",
    name: str,
    branch: Optional[str],
    commit: str,
    backend: str = "auto",
    backend_options: Optional[Mapping[str, Any]] = None,
    keep_going: bool = False,
    nowait: bool = False,
) -> Tuple[Optional["BuildReport"], Optional["Published"], Optional["Detached"]]:
    """Build the stream set with ``name`` at ``commit``; see the module docstring.

    Returns the report and repository of a build run here, or the detached process
    of a ``nowait`` build started in the background.
    """
    from .frontend import run_build

    check_checkout(stream.manifest, name, branch)
    with stream.workdir:
        lock = stream.lock("auto")
        pinned = pin_component(stream.manifest, lock, name, commit, stream.workdir.git_cache)
        if pinned != lock:
            lock_mod.write_lock(stream.lock_path, pinned)
            stream.emit({"event": "locked", "lock": stream.lock_path, "pinned": {name: commit}})
    return run_build(stream, backend, backend_options or {}, "locked", keep_going, nowait=nowait)
