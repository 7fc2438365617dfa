"""Every git call stream-build makes, in one place.

Values (URLs, refs, commits) are passed after ``--end-of-options`` or as
arguments that git cannot read as options, never through a shell; the ``ext::``
transport is disabled and git never prompts for credentials.
"""

from __future__ import annotations

import hashlib
import io
import os
import subprocess
import tarfile
from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence

from . import procs, values
from .errors import EnvironmentProblem, SourceError
from .workdir import disk_full

GIT_TIMEOUT = 300

_SAFE_CONFIG = (
    "-c", "protocol.ext.allow=never",
    "-c", "protocol.file.allow=always",
    "-c", "core.hooksPath=/dev/null",
    "-c", "advice.detachedHead=false",
)


def _env() -> Dict[str, str]:
    env = dict(os.environ)
    env.update(
        GIT_TERMINAL_PROMPT="0",
        GIT_ASKPASS="/bin/true",
        SSH_ASKPASS="/bin/true",
        GIT_CONFIG_NOSYSTEM="1",
        LC_ALL="C",
    )
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    return env


def run_git(args: Sequence[str], git_dir: Optional[str] = None, what: str = "git", stdin: bytes = b"") -> bytes:
    """Run git with safe settings and return its standard output; raise SourceError with git's message."""
    cmd: List[str] = ["git", *_SAFE_CONFIG]
    if git_dir is not None:
        cmd.append(f"--git-dir={git_dir}")
    cmd.extend(args)
    try:
        proc = procs.run(cmd, input=stdin, capture_output=True, env=_env(), timeout=GIT_TIMEOUT)
    except FileNotFoundError:
        raise EnvironmentProblem("git is not installed") from None
    except subprocess.TimeoutExpired:
        raise SourceError(f"{what}: git did not answer within {GIT_TIMEOUT} s") from None
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        detail = "; ".join(line for line in message if line.strip())[-500:] or f"exit code {proc.returncode}"
        if "No space left on device" in detail or "Disk quota exceeded" in detail:
            where = git_dir or next((a for a in reversed(args) if os.path.isabs(a)), os.getcwd())
            raise disk_full(where, f"{what} ({detail})")
        raise SourceError(f"{what}: {detail}")
    return proc.stdout


@dataclass(frozen=True)
class ResolvedRef:
    ref: str
    full_ref: str  # refs/heads/..., refs/tags/..., or the commit itself
    commit: str


def ls_remote(url: str) -> Dict[str, str]:
    """All refs of a remote repository: full ref name -> object id (tags peeled to commits)."""
    values.check_url(url, "repository URL")
    out = run_git(["ls-remote", "--end-of-options", url], what=f"listing {url}")
    refs: Dict[str, str] = {}
    for line in out.decode("utf-8", "replace").splitlines():
        oid, _, name = line.partition("\t")
        if name.endswith("^{}"):
            refs[name[:-3]] = oid  # the peeled commit of an annotated tag wins
        elif name not in refs:
            refs[name] = oid
    return refs


def resolve(url: str, ref: str, refs: Optional[Dict[str, str]] = None) -> ResolvedRef:
    """Resolve a branch, tag or full commit id of a remote repository to a full commit id."""
    values.check_ref(ref)
    refs = ls_remote(url) if refs is None else refs
    for full in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref if ref.startswith("refs/") else None):
        if full and full in refs:
            return ResolvedRef(ref, full, refs[full])
    if values.is_full_commit(ref):
        return ResolvedRef(ref, ref, ref)
    branches = sorted(r[len("refs/heads/"):] for r in refs if r.startswith("refs/heads/"))
    shown = ", ".join(branches[:20]) + (" …" if len(branches) > 20 else "")
    raise SourceError(f"{url} has no branch or tag {ref!r} (branches: {shown or 'none'})")


def mirror_path(cache_dir: str, url: str) -> str:
    digest = hashlib.sha256(url.encode()).hexdigest()[:16]
    tail = url.rstrip("/").rsplit("/", 1)[-1]
    tail = tail[:-4] if tail.endswith(".git") else tail
    return os.path.join(cache_dir, f"{tail}-{digest}.git")


def has_commit(git_dir: str, commit: str) -> bool:
    try:
        run_git(["cat-file", "-e", f"{commit}^{{commit}}"], git_dir=git_dir)
        return True
    except SourceError:
        return False


def fetch_commit(cache_dir: str, url: str, commit: str, full_ref: Optional[str] = None) -> str:
    """Make sure a local bare mirror of ``url`` has ``commit``; return the mirror's path."""
    values.check_url(url, "repository URL")
    values.check_commit(commit)
    git_dir = mirror_path(cache_dir, url)
    if not os.path.isdir(git_dir):
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{git_dir}.tmp{os.getpid()}"
        run_git(["init", "--quiet", "--bare", "--end-of-options", tmp], what="creating a mirror")
        os.replace(tmp, git_dir)
    if has_commit(git_dir, commit):
        return git_dir
    attempts: List[List[str]] = []
    if full_ref and full_ref.startswith("refs/"):
        values.check_ref(full_ref)
        attempts.append([f"+{full_ref}:{full_ref}"])
    attempts.append(["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"])
    attempts.append([commit])  # servers that allow fetching reachable commits by id
    for refspecs in attempts:
        try:
            run_git(
                ["fetch", "--quiet", "--no-write-fetch-head", "--end-of-options", url, *refspecs],
                git_dir=git_dir,
                what=f"fetching {url}",
            )
        except SourceError:
            if refspecs != [commit]:
                raise
        if has_commit(git_dir, commit):
            return git_dir
    raise SourceError(f"{url} does not have commit {commit} (was the branch force-pushed?)")


def branches_containing(git_dir: str, commit: str) -> List[str]:
    out = run_git(["branch", "--format=%(refname:short)", "--contains", commit], git_dir=git_dir)
    return [line.strip() for line in out.decode().splitlines() if line.strip()]


def file_at(git_dir: str, commit: str, path: str) -> Optional[bytes]:
    values.check_commit(commit)
    try:
        return run_git(["cat-file", "blob", f"{commit}:{path}"], git_dir=git_dir)
    except SourceError:
        return None


def list_root(git_dir: str, commit: str) -> List[str]:
    values.check_commit(commit)
    out = run_git(["ls-tree", "--name-only", commit], git_dir=git_dir)
    return out.decode("utf-8", "replace").splitlines()


def export_tree(git_dir: str, commit: str, dest: str) -> None:
    """Write the tree of ``commit`` into ``dest`` (which must not exist yet)."""
    data = archive(git_dir, commit, fmt="tar")
    os.makedirs(dest)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        for member in tar.getmembers():
            if member.name.startswith("/") or ".." in member.name.split("/"):
                raise SourceError(f"refusing archive member {member.name!r}")
        tar.extractall(dest)


def archive(git_dir: str, commit: str, fmt: str = "tar.gz", prefix: Optional[str] = None) -> bytes:
    values.check_commit(commit)
    args = ["archive", f"--format={fmt}"]
    if prefix:
        args.append(f"--prefix={prefix}")
    args += ["--end-of-options", commit]
    return run_git(args, git_dir=git_dir, what="git archive")


def describe(git_dir: str, commit: str) -> Optional[str]:
    try:
        return run_git(["describe", "--tags", "--abbrev=0", "--end-of-options", commit], git_dir=git_dir).decode().strip() or None
    except SourceError:
        return None


def commit_time(git_dir: str, commit: str) -> int:
    return int(run_git(["show", "-s", "--format=%ct", "--end-of-options", commit], git_dir=git_dir).decode().strip())
