"""The work directory (``.stream-build/`` beside the manifest): its layout, its lock, atomic writes."""

from __future__ import annotations

import errno
import fcntl
import json
import os
import shutil
import tempfile
from typing import Any, Optional

from . import values
from .errors import EnvironmentProblem


def atomic_write(path: str, data: bytes) -> None:
    """Write ``path`` so that readers see the old or the new content, never a part."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json(path: str, data: Any) -> None:
    atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode())


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
        os.makedirs(self.root, exist_ok=True)
        fd = os.open(self.path("lock"), os.O_RDWR | os.O_CREAT, 0o644)
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
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._lock_fd = fd
        shutil.rmtree(self.path("tmp"), ignore_errors=True)  # left by a run that crashed
        return self

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
