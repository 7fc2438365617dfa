"""Every git call stream-build makes, in one place.

Values (URLs, refs, commits) are passed after ``--end-of-options``, as arguments
that git cannot read as options, or as lines on the standard input of
``git cat-file --batch``; never through a shell. The ``ext::`` transport is
disabled and git never prompts for credentials.

Sources are read with one ``git cat-file --batch`` process per repository
(:class:`ObjectReader`): the ref, the commit, its trees and every blob come through
it, and the tree is written out from those answers (:meth:`ObjectReader.export`), so
no ``git archive``, ``tar`` or ``cat-file`` per file. A repository on this host
(``file://``) is read in place, as git reads a local repository it clones; a remote one
is fetched into a mirror of its own, only the locked ref and shallowly where the server
allows (:func:`source_reader`). Mirrors are per repository, not per host, because
``git fetch`` walks every ref of the repository it fetches into (negotiation and the
connectivity check): a host mirror holding thousands of repositories' refs costs each
fetch time in proportion to them (0.5 s a fetch at 5,000 refs, against 15 ms).
"""

from __future__ import annotations

import hashlib
import io
import os
import select
import shutil
import subprocess
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from typing import IO, Any, Dict, Iterable, List, Optional, Sequence, Tuple
from urllib.parse import urlsplit

from . import procs, values
from .errors import EnvironmentProblem, SourceError, StreamBuildError
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
    out: bytes = proc.stdout
    return out


@dataclass(frozen=True)
class ResolvedRef:
    ref: str
    full_ref: str  # refs/heads/..., refs/tags/..., or the commit itself
    commit: str


def ls_remote(url: str) -> Dict[str, str]:
    """All refs of a remote repository: full ref name -> object id (tags peeled to commits)."""
    values.check_url(url, "repository URL")
    # Over git://, protocol 2 waits for a delayed TCP acknowledgement before git daemon answers
    # (40 ms a listing, measured on loopback); protocol 0 lists the same refs in one exchange. (A fetch
    # stays on protocol 2: protocol 0 fetches a commit by id only where the server allows it.)
    version = ["-c", "protocol.version=0"] if url.startswith("git://") else []
    out = run_git([*version, "ls-remote", "--end-of-options", url], what=f"listing {url}")
    refs: Dict[str, str] = {}
    for line in out.decode("utf-8", "replace").splitlines():
        oid, _, name = line.partition("\t")
        if name.endswith("^{}"):
            refs[name[:-3]] = oid  # the peeled commit of an annotated tag wins
        elif name not in refs:
            refs[name] = oid
    return refs


def resolve(url: str, ref: str, refs: Optional[Dict[str, str]] = None) -> ResolvedRef:
    """Resolve a branch, tag or full commit id of a remote repository to a full commit id.

    ``refs`` is what :func:`ls_remote` answered, if asked already; without it a repository on
    this host is read in place (:func:`local_repository`), any other asked with ``ls-remote``.
    """
    values.check_ref(ref)
    if refs is None:
        values.check_url(url, "repository URL")
        local = local_repository(url)
        if local is not None:
            with ObjectReader(local, f"reading {url}") as reader:
                found = reader.resolve(url, ref)
            if found is not None:
                return found
    refs = ls_remote(url) if refs is None else refs
    for full in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref if ref.startswith("refs/") else None):
        if full and full in refs:
            return ResolvedRef(ref, full, refs[full])
    if values.is_full_commit(ref):
        return ResolvedRef(ref, ref, ref)
    branches = sorted(r[len("refs/heads/"):] for r in refs if r.startswith("refs/heads/"))
    shown = ", ".join(branches[:20]) + (" …" if len(branches) > 20 else "")
    raise SourceError(f"{url} has no branch or tag {ref!r} (branches: {shown or 'none'})")


def current_refs(url: str, names: Sequence[str]) -> Dict[str, str]:
    """What each full ref name of ``names`` points to now on ``url``, peeled as :func:`ls_remote` gives it
    (names the repository lacks are left out): read in place for a repository on this host, else
    one ``ls-remote``."""
    values.check_url(url, "repository URL")
    local = local_repository(url)
    if local is None:
        refs = ls_remote(url)
        return {name: refs[name] for name in names if name in refs}
    found: Dict[str, str] = {}
    with ObjectReader(local, f"reading {url}") as reader:
        for name in names:
            values.check_ref(name)
            answer = reader.get(f"{name}^{{}}")
            if answer is not None:
                found[name] = answer[0]
    return found


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
    """Make sure a local bare mirror of ``url`` has ``commit``; return the mirror's path.

    Threads of this process fetch into one mirror in turn (as in :func:`fetch_branches`)."""
    values.check_url(url, "repository URL")
    values.check_commit(commit)
    git_dir = mirror_path(cache_dir, url)
    with _mirror_lock(git_dir):
        return _fetch_commit(git_dir, cache_dir, url, commit, full_ref)


def fetch_branches(git_dir: str, url: str) -> None:
    """Make the mirror's branches exactly the remote's (new ones added, moved ones moved, gone ones gone)."""
    with _mirror_lock(git_dir):
        run_git(["fetch", "--quiet", "--prune", "--no-tags", "--no-write-fetch-head", "--end-of-options", url,
                 "+refs/heads/*:refs/heads/*"], git_dir=git_dir, what=f"fetching the branches of {url}")


def _fetch_commit(git_dir: str, cache_dir: str, url: str, commit: str, full_ref: Optional[str]) -> str:
    fresh = not os.path.isdir(git_dir)
    if fresh:
        os.makedirs(cache_dir, exist_ok=True)
        tmp = f"{git_dir}.tmp{os.getpid()}"
        run_git(["init", "--quiet", "--bare", "--end-of-options", tmp], what="creating a mirror")
        os.replace(tmp, git_dir)
    if not fresh and has_commit(git_dir, commit):  # (a mirror just made has nothing yet)
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


# -- reading a repository's objects through one process ---------------------------------------

#: Modes of tree entries (``git cat-file`` prints them without leading zeros).
_TREE, _LINK, _SUBMODULE = b"40000", b"120000", b"160000"
#: What ``git archive`` writes (its default ``tar.umask`` of 002), so a tree written here is the one it gave.
_FILE_MODE, _EXEC_MODE, _DIR_MODE = 0o664, 0o775, 0o775


class ObjectReader:
    """``git cat-file --batch`` over one repository: refs and objects read by name through one process.

    Names (object ids, full ref names, ``<ref>^{}``) go to git as lines on its standard input,
    never as arguments. Each answer waits at most :data:`GIT_TIMEOUT` seconds; a reader that
    git stopped answering is a :class:`SourceError` saying what git said.
    """

    def __init__(self, git_dir: str, what: str) -> None:
        self.git_dir = git_dir
        self.what = what
        self._errors: IO[bytes] = tempfile.TemporaryFile()
        cmd = ["git", *_SAFE_CONFIG, f"--git-dir={git_dir}", "cat-file", "--batch"]
        try:
            self.proc = procs.popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._errors,
                                    env=_env())
        except FileNotFoundError:
            self._errors.close()
            raise EnvironmentProblem("git is not installed") from None
        self._buffer = bytearray()
        self._closed = False

    def __enter__(self) -> "ObjectReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        proc = self.proc
        try:
            if proc.stdin is not None:
                proc.stdin.close()
        except OSError:
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            procs.kill(proc)
        if proc.stdout is not None:
            proc.stdout.close()
        self._errors.close()

    def _failure(self, detail: str) -> StreamBuildError:
        procs.kill(self.proc)
        self._errors.seek(0)
        said = self._errors.read().decode("utf-8", "replace").splitlines()
        message = "; ".join(line for line in said if line.strip())[-500:]
        if "No space left on device" in message or "Disk quota exceeded" in message:
            return disk_full(self.git_dir, f"{self.what} ({message})")
        return SourceError(f"{self.what}: {message or detail}")

    def _fill(self, deadline: float) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise self._failure(f"git did not answer within {GIT_TIMEOUT} s")
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            raise self._failure("git cat-file ended without answering")
        self._buffer += chunk

    def get(self, name: str) -> Optional[Tuple[str, str, bytes]]:
        """``(object id, type, content)`` of what ``name`` names, or ``None`` when the repository lacks it."""
        if not name or "\n" in name or name.startswith("-"):
            raise ValueError(f"not an object name: {name!r}")
        assert self.proc.stdin is not None
        try:
            self.proc.stdin.write(name.encode() + b"\n")
            self.proc.stdin.flush()
        except OSError:
            raise self._failure("git cat-file stopped") from None
        deadline = time.monotonic() + GIT_TIMEOUT
        while b"\n" not in self._buffer:
            self._fill(deadline)
        end = self._buffer.index(b"\n")
        header = bytes(self._buffer[:end]).decode("utf-8", "replace")
        del self._buffer[:end + 1]
        words = header.rsplit(" ", 2)
        if header.endswith((" missing", " ambiguous")):
            return None
        if len(words) != 3 or not words[2].isdigit():
            raise self._failure(f"unexpected answer {header[:100]!r}")
        oid, kind, size = words[0], words[1], int(words[2])
        while len(self._buffer) < size + 1:
            self._fill(deadline)
        data = bytes(self._buffer[:size])
        del self._buffer[:size + 1]
        return oid, kind, data

    def commit_of(self, name: str) -> Optional[str]:
        """The commit ``name`` (a ref or an id) is or peels to; ``None`` when there is none."""
        found = self.get(f"{name}^{{commit}}")
        return found[0] if found is not None and found[1] == "commit" else None

    def has_commit(self, commit: str) -> bool:
        return self.commit_of(commit) == commit

    def resolve(self, url: str, ref: str) -> Optional[ResolvedRef]:
        """What :func:`resolve` answers for this repository, read in place; ``None`` when the ref is not there
        (then :func:`resolve`, over the remote, says why)."""
        values.check_ref(ref)
        for full in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref if ref.startswith("refs/") else None):
            if full is None:
                continue
            found = self.get(f"{full}^{{}}")  # as ls-remote: an annotated tag peeled to what it tags
            if found is not None:
                return ResolvedRef(ref, full, found[0])
        if values.is_full_commit(ref):
            return ResolvedRef(ref, ref, ref)
        return None

    def export(self, commit: str, dest: str) -> None:
        """Write the tree of ``commit`` into ``dest`` (which must not exist yet), as :func:`export_tree` does.

        Files, executables, symbolic links and (empty) submodule directories get the modes and
        times ``git archive`` gives them; an entry named ``.``, ``..`` or with a ``/`` is refused.
        A tree whose ``.gitattributes`` asks ``git archive`` to leave out or rewrite files
        (``export-ignore``, ``export-subst``) is exported by ``git archive`` itself.
        """
        found = self.get(commit)
        if found is None or found[1] != "commit":
            raise SourceError(f"{self.what}: no commit {commit}")
        head = found[2].split(b"\n\n", 1)[0].split(b"\n")
        tree = head[0][len(b"tree "):].decode() if head and head[0].startswith(b"tree ") else ""
        stamp = next((int(line.rsplit(b" ", 2)[-2]) for line in head if line.startswith(b"committer ")), 0)
        entries = list(self._walk(tree))
        if any(path.rsplit("/", 1)[-1] == ".gitattributes" and b"export-" in (self._blob(oid) or b"")
               for path, mode, oid in entries if mode not in (_TREE, _SUBMODULE, _LINK)):
            export_tree(self.git_dir, commit, dest)
            return
        os.makedirs(dest)
        directories = []
        for path, mode, oid in entries:
            target = os.path.join(dest, path)
            if mode == _TREE or mode == _SUBMODULE:
                os.mkdir(target, _DIR_MODE)
                os.chmod(target, _DIR_MODE)
                directories.append(target)
                continue
            data = self._blob(oid)
            if data is None:
                raise SourceError(f"{self.what}: commit {commit[:12]} lacks the object of {path}")
            if mode == _LINK:
                os.symlink(data, target)
                continue
            fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.chmod(target, _EXEC_MODE if mode == b"100755" else _FILE_MODE)
            os.utime(target, (stamp, stamp))
        for directory in reversed(directories):
            os.utime(directory, (stamp, stamp))

    def _blob(self, oid: str) -> Optional[bytes]:
        found = self.get(oid)
        return found[2] if found is not None and found[1] == "blob" else None

    def _walk(self, tree: str) -> Iterable[Tuple[str, bytes, str]]:
        """``(path, mode, object id)`` of every entry under ``tree``, parents before children."""
        stack: List[Tuple[str, str]] = [(tree, "")]
        while stack:
            oid, prefix = stack.pop()
            found = self.get(oid)
            if found is None or found[1] != "tree":
                raise SourceError(f"{self.what}: tree {oid} is missing or not a tree")
            data, index, size = found[2], 0, len(found[0]) // 2
            children = []
            while index < len(data):
                space = data.index(b" ", index)
                nul = data.index(b"\0", space)
                mode, raw = data[index:space], data[space + 1:nul]
                name = raw.decode("utf-8", "surrogateescape")
                child = data[nul + 1:nul + 1 + size].hex()
                index = nul + 1 + size
                if name in ("", ".", "..") or "/" in name or "\0" in name:
                    raise SourceError(f"refusing tree entry {prefix + name!r}")
                path = prefix + name
                yield path, mode, child
                if mode == _TREE:
                    children.append((child, path + "/"))
            stack.extend(reversed(children))


def local_repository(url: str) -> Optional[str]:
    """The repository a ``file://`` URL names, when it is one git would serve as it is; else ``None``.

    Looked up as ``git upload-pack`` looks it up (``<path>/.git``, ``<path>``, ``<path>.git``).
    A URL with escapes, or a repository that hides refs from fetches (``*.hideRefs``), is left
    to git's own transport.
    """
    parts = urlsplit(url)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost") or parts.query or parts.fragment \
            or "%" in url or not parts.path.startswith("/"):
        return None
    path = parts.path.rstrip("/") or "/"
    for candidate in (f"{path}/.git", path, f"{path}.git/.git", f"{path}.git"):
        if os.path.isfile(candidate):
            return None  # a "gitdir:" file: git's business
        if os.path.isdir(candidate):
            if not (os.path.isfile(os.path.join(candidate, "HEAD")) and os.path.isdir(os.path.join(candidate, "objects"))
                    and os.path.isdir(os.path.join(candidate, "refs"))):
                continue
            try:
                with open(os.path.join(candidate, "config"), "rb") as handle:
                    if b"hiderefs" in handle.read().lower():
                        return None
            except OSError:
                pass
            return candidate
    return None


def source_mirror_path(cache_dir: str, url: str) -> str:
    """The mirror the sources of ``url`` are fetched into: shallow, its own, apart from :func:`mirror_path`'s
    (whose full history the policy checks walk)."""
    return mirror_path(cache_dir, url)[: -len(".git")] + "-shallow.git"


_MIRROR_LOCKS: Dict[str, threading.Lock] = {}
_MIRROR_LOCKS_GUARD = threading.Lock()


def _mirror_lock(git_dir: str) -> threading.Lock:
    with _MIRROR_LOCKS_GUARD:
        return _MIRROR_LOCKS.setdefault(git_dir, threading.Lock())


_FETCH_CONFIG = ("-c", "maintenance.auto=false", "-c", "gc.auto=0")


def _fetch_into(git_dir: str, url: str, refspecs: Sequence[str], options: Sequence[str] = ()) -> None:
    run_git([*_FETCH_CONFIG, "fetch", "--quiet", "--no-tags", "--no-write-fetch-head", *options, "--end-of-options",
             url, *refspecs], git_dir=git_dir, what=f"fetching {url}")


def _reader_holding(git_dir: str, commit: str, url: str) -> Optional[ObjectReader]:
    """An :class:`ObjectReader` over ``git_dir`` when it holds ``commit``, else ``None`` (nothing left open)."""
    reader = ObjectReader(git_dir, f"reading {url}")
    try:
        if reader.has_commit(commit):
            return reader
    except BaseException:
        reader.close()
        raise
    reader.close()
    return None


def source_reader(cache_dir: str, url: str, commit: str, full_ref: Optional[str] = None) -> ObjectReader:
    """An :class:`ObjectReader` over a repository that holds ``commit`` of ``url`` (close it after use).

    A repository on this host (``file://``) is read in place. Any other is fetched into its
    own mirror under ``cache_dir`` (:func:`source_mirror_path`): the locked ref ``full_ref``
    at depth 1, then the commit by id at depth 1 (a branch that moved since it was locked),
    then every branch and tag in full; without depth where the server cannot serve shallow
    fetches. Nothing is fetched when the mirror already holds the commit.
    """
    values.check_url(url, "repository URL")
    values.check_commit(commit)
    local = local_repository(url)
    if local is not None:
        reader = _reader_holding(local, commit, url)
        if reader is not None:
            return reader
        return ObjectReader(fetch_commit(cache_dir, url, commit, full_ref), f"reading {url}")
    git_dir = source_mirror_path(cache_dir, url)
    with _mirror_lock(git_dir):
        fresh = not os.path.isdir(git_dir)
        if fresh:
            os.makedirs(cache_dir, exist_ok=True)
            tmp = f"{git_dir}.tmp{os.getpid()}"  # see workdir.remove_stale
            shutil.rmtree(tmp, ignore_errors=True)
            run_git(["init", "--quiet", "--bare", "--template=", "--end-of-options", tmp], what="creating a mirror")
            os.replace(tmp, git_dir)
        shallow = ["--depth=1"]
        steps: List[Optional[Tuple[List[str], bool]]] = [] if fresh else [None]
        if full_ref and full_ref.startswith("refs/"):
            values.check_ref(full_ref)
            steps.append(([f"+{full_ref}:{full_ref}"], True))
        steps.append(([commit], False))  # servers that serve reachable commits by id
        steps.append((["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"], True))
        for step in steps:
            if step is not None:
                refspecs, must = step
                try:
                    if refspecs[0].startswith("+refs/heads/*"):
                        full = ["--unshallow"] if os.path.exists(os.path.join(git_dir, "shallow")) else []
                        _fetch_into(git_dir, url, refspecs, full)
                    else:
                        try:
                            _fetch_into(git_dir, url, refspecs, shallow)
                        except SourceError as exc:
                            if "shallow" not in exc.message:
                                raise
                            shallow = []  # a server without shallow fetches (dumb HTTP): in full from now on
                            _fetch_into(git_dir, url, refspecs)
                except SourceError as exc:
                    if must and "couldn't find remote ref" not in exc.message:  # a locked branch since deleted
                        raise
                    continue
            reader = _reader_holding(git_dir, commit, url)
            if reader is not None:
                return reader
    raise SourceError(f"{url} does not have commit {commit} (was the branch force-pushed?)")
