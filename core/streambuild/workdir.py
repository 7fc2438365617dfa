"""The work directory (``.stream-build/`` beside the manifest): its layout, its lock, atomic writes.

Opening a work directory (:meth:`WorkDir.acquire`) removes what a run that crashed or
was killed left half-written: ``tmp/``, lookaside downloads (``*.part<PID>``), mirrors
being created (``git/*.git.tmp<PID>``), atomic writes (``.tmp-*``) and repositories being
made (``repos/*.new``, ``repos/*.old``). A full disk (``ENOSPC``, ``EDQUOT``) is a
:class:`~streambuild.errors.DiskFull` error (exit 4) naming the file system that filled
up (:func:`disk_full`), never a traceback.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
from typing import Any, List, Optional

from . import values
from .errors import DiskFull, EnvironmentProblem

#: The errno values of a full file system.
NO_SPACE = (errno.ENOSPC, errno.EDQUOT)

# How stream-build names what it writes aside before moving it into place: atomic_write's files,
# lookaside downloads (".<file>.part<PID>"; once "<file>.part<PID>", which a source could also be
# called, so such a file is stale only if it does not have the hash it is stored under), mirrors
# being created (gitops) and repositories being made (publish.make_repo).
_ATOMIC = re.compile(r"\.tmp-.+\Z")
_DOWNLOAD = re.compile(r"\..+\.part\d+\Z")
_OLD_DOWNLOAD = re.compile(r".+\.part\d+\Z")
_MIRROR = re.compile(r".+\.git\.tmp\d+\Z")
_REPO = re.compile(r".+\.(new|old)\Z")


def _is_verified(path: str) -> bool:
    """Whether a file in the lookaside cache (``<hashtype>/<hash>/<file>``) has the hash it is stored under."""
    hash_dir = os.path.dirname(path)
    hashtype = os.path.basename(os.path.dirname(hash_dir))
    try:
        digest = hashlib.new(hashtype)
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    except (OSError, ValueError):
        return False
    return digest.hexdigest() == os.path.basename(hash_dir)


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in NO_SPACE


def mount_point(path: str) -> str:
    """The mount point of the file system holding ``path`` (or where it would be created)."""
    path = os.path.abspath(path)
    while not os.path.exists(path) and path != os.path.dirname(path):
        path = os.path.dirname(path)
    while not os.path.ismount(path):
        path = os.path.dirname(path)
    return path


def nearly_full(path: str, margin: int = 1024 * 1024) -> bool:
    """Whether the file system holding ``path`` has less than ``margin`` bytes left for us: to tell,
    when a tool failed without saying why, whether the disk is the reason."""
    try:
        stat = os.statvfs(mount_point(path))
    except OSError:
        return False
    return stat.f_bavail * stat.f_frsize < margin


def disk_full(path: Optional[str], what: str) -> DiskFull:
    """The error for a file system that filled up while ``what`` (``writing the journal``) at ``path``
    (None: unknown, when the error did not say)."""
    if path is None:
        return DiskFull(f"no space left on a device: {what} failed; free some space and run again")
    mount = mount_point(path)
    try:
        stat = os.statvfs(mount)
        free = f", {stat.f_bavail * stat.f_frsize // 1024} KiB free"
    except OSError:
        free = ""
    return DiskFull(f"no space left on the file system at {mount}{free}: {what} failed ({path}); "
                    "free some space (or use --workdir on another file system) and run again")


def atomic_write(path: str, data: bytes, durable: bool = True) -> None:
    """Write ``path`` so that readers see the old or the new content, never a part; ``durable``: on the
    disk before it is moved into place (a cache need not be: :mod:`streambuild.kept`)."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = None
    try:
        os.makedirs(directory, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            if durable:
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        if is_disk_full(exc):
            raise disk_full(path, f"writing {os.path.basename(path)}") from None
        raise


def write_json(path: str, data: Any) -> None:
    atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


def read_json(path: str) -> Any:
    """What :func:`write_json` wrote, or ``None`` when the file is missing or not JSON."""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


#: The work directory's name, beside the manifest, unless ``--workdir`` moves it.
DEFAULT_NAME = ".stream-build"


def default_root(manifest_path: str, given: Optional[str] = None) -> str:
    """The work directory of the manifest at ``manifest_path``: ``given`` (``--workdir``), else
    ``.stream-build`` beside the manifest. Every front-end asks this, never works it out itself."""
    return given or os.path.join(os.path.dirname(os.path.abspath(manifest_path)), DEFAULT_NAME)


class WorkDir:
    """Paths of everything a stream keeps between runs, and the lock that keeps runs apart."""

    def __init__(self, root: str) -> None:
        # every path rpm and rpmbuild are given (topdir, dbpath, sources, specs) is under the root
        self.root = values.check_path(os.path.abspath(values.check_path(root, "work directory")), "work directory")
        self._lock_fd: Optional[int] = None

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def git_cache(self) -> str:
        return self.path("git")

    @property
    def lookaside_cache(self) -> str:
        return self.path("lookaside")

    @property
    def results(self) -> str:
        return self.path("results")

    @property
    def repos(self) -> str:
        return self.path("repos")

    @property
    def journal(self) -> str:
        return self.path("journal.jsonl")

    def sources_of(self, name: str, commit: str) -> str:
        return self.path("sources", f"{name}-{commit[:16]}")

    def tmp(self, prefix: str) -> str:
        os.makedirs(self.path("tmp"), exist_ok=True)
        return tempfile.mkdtemp(prefix=prefix, dir=self.path("tmp"))

    def acquire(self) -> "WorkDir":
        """Hold the work directory for this run; refuse if another run holds it."""
        try:
            os.makedirs(self.root, exist_ok=True)
            fd = os.open(self.path("lock"), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if is_disk_full(exc):
                raise disk_full(self.root, "creating the work directory") from None
            raise EnvironmentProblem(f"cannot use {self.root} as the work directory: {exc.strerror or exc} "
                                     "(name another with --workdir)") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                holder = _read_holder(self.path("lock"))
                raise EnvironmentProblem(
                    f"work directory {self.root} is in use by another stream-build run{holder}; "
                    "wait for it to finish"
                ) from None
            raise
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            os.close(fd)
            if is_disk_full(exc):
                raise disk_full(self.path("lock"), "opening the work directory") from None
            raise
        self._lock_fd = fd
        self.remove_stale()
        return self

    def remove_stale(self) -> List[str]:
        """Remove what runs that crashed left half-written (see the module's docstring); return it.

        Only for the holder of the work directory: no other run can be writing them.
        """
        stale = [self.path("tmp")] if os.path.lexists(self.path("tmp")) else []
        stale += self._matching("", _ATOMIC) + self._matching("git", _MIRROR) + self._matching("repos", _REPO)
        for top in ("results", "analysis"):
            for parent, _dirs, files in os.walk(self.path(top)):
                stale += [os.path.join(parent, name) for name in files if _ATOMIC.match(name)]
        for parent, _dirs, files in os.walk(self.lookaside_cache):
            for name in files:
                path = os.path.join(parent, name)
                if _ATOMIC.match(name) or _DOWNLOAD.match(name) or (
                    _OLD_DOWNLOAD.match(name) and not _is_verified(path)
                ):
                    stale.append(path)
        for path in stale:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except FileNotFoundError:
                    pass
        return stale

    def _matching(self, top: str, pattern: "re.Pattern[str]") -> List[str]:
        directory = self.path(top) if top else self.root
        try:
            return [os.path.join(directory, name) for name in os.listdir(directory) if pattern.match(name)]
        except OSError:
            return []

    def release(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> "WorkDir":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _read_holder(path: str) -> str:
    try:
        with open(path) as handle:
            pid = handle.read().strip()
        return f" (pid {pid})" if pid else ""
    except OSError:
        return ""
