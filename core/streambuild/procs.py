"""Every child process stream-build starts dies with it: the one way to start a command.

When stream-build is killed (``kill -9``, a crash, the OOM killer), nothing it started
may keep running: an orphaned rpmbuild goes on writing into a work directory that the
next run uses, and holds CPUs. Linux's parent-death signal (``prctl(PR_SET_PDEATHSIG)``)
is set in every child, so the kernel kills it when the thread that started it ends.

Two ways, by what the command starts itself:

* :func:`run` and :func:`popen` with ``group=False`` (git, createrepo_c, rpmspec): the
  child itself gets the parent-death signal (``SIGKILL``) before it executes the command.
* ``group=True`` (rpmbuild and rpm, whose scriptlets and ``%build`` shells start more
  processes): the command runs in a process group of its own, under a small guard
  (:mod:`streambuild._procguard`, the same interpreter without site packages). The
  guard gets the parent-death signal and then kills the whole group; stopping the group
  (``os.killpg(proc.pid, sig)``) reaches the guard and everything under it.

The signal is set before the command runs and the parent is checked afterwards, so a
parent that dies in between is noticed too. Use these instead of :mod:`subprocess`
for every command stream-build waits for (a command meant to outlive stream-build, such
as the detached ``--nowait`` build, is the exception).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import subprocess
import sys
from typing import Any, Callable, Optional, Sequence

__all__ = ["popen", "run", "GUARD", "PDEATHSIG_AVAILABLE"]

PR_SET_PDEATHSIG = 1

#: The guard script run in front of ``group=True`` commands.
GUARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_procguard.py")


def _load_prctl() -> Optional[Callable[..., int]]:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl = libc.prctl
    except (OSError, AttributeError):
        return None
    prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    prctl.restype = ctypes.c_int
    return prctl


_PRCTL = _load_prctl()
#: Whether children can be tied to stream-build's life here (Linux); elsewhere they are not.
PDEATHSIG_AVAILABLE = _PRCTL is not None


def _die_with(parent: int) -> Callable[[], None]:
    """The ``preexec_fn`` that ties a child to ``parent``: resolved before the fork, so the child
    only makes two system calls before it executes the command."""
    prctl = _PRCTL
    kill, getppid, getpid = os.kill, os.getppid, os.getpid

    def preexec() -> None:
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if getppid() != parent:  # the parent died before the signal was set
            kill(getpid(), signal.SIGKILL)

    return preexec


def _python() -> str:
    return sys.executable or "/usr/bin/python3"


def popen(cmd: Sequence[str], *, group: bool = False, **kwargs: Any) -> "subprocess.Popen[Any]":
    """:class:`subprocess.Popen` for a child that dies with stream-build.

    :param group: run the command in a process group of its own, which dies as a whole with
        stream-build and which ``os.killpg(proc.pid, sig)`` stops as a whole (the command's
        exit status is passed through, a death by signal included).

    Every other keyword goes to :class:`subprocess.Popen` (``preexec_fn`` and
    ``start_new_session`` are this function's own). Raises ``FileNotFoundError`` when the
    command does not exist, as Popen does.
    """
    for own in ("preexec_fn", "start_new_session"):
        if own in kwargs:
            raise TypeError(f"procs.popen sets {own} itself")
    argv = [str(arg) for arg in cmd]
    if not group:
        return subprocess.Popen(argv, preexec_fn=_die_with(os.getpid()), **kwargs)
    _require_executable(argv[0], kwargs.get("env"), kwargs.get("cwd"))
    guard = [_python(), "-I", "-S", GUARD, str(os.getpid()), "--", *argv]
    return subprocess.Popen(guard, preexec_fn=_die_with(os.getpid()), start_new_session=True, **kwargs)


def _require_executable(name: str, env: Any, cwd: Any) -> None:
    """Fail as Popen would (FileNotFoundError) when the command cannot be found, before the guard starts."""
    import shutil

    if os.sep in name:
        path = name if os.path.isabs(name) or cwd is None else os.path.join(cwd, name)
        found = path if os.access(path, os.X_OK) and not os.path.isdir(path) else None
    else:
        found = shutil.which(name, path=(env or os.environ).get("PATH", os.defpath))
    if found is None:
        raise FileNotFoundError(2, "No such file or directory", name)


def run(
    cmd: Sequence[str],
    *,
    input: Optional[bytes] = None,  # noqa: A002 - subprocess.run's name
    timeout: Optional[float] = None,
    group: bool = False,
    **kwargs: Any,
) -> "subprocess.CompletedProcess[Any]":
    """:func:`subprocess.run` for a child that dies with stream-build (see :func:`popen`).

    On a timeout (or any exception while waiting) the child, and with ``group`` its whole
    process group, is killed and waited for before ``subprocess.TimeoutExpired`` is raised.
    """
    if input is not None:
        kwargs["stdin"] = subprocess.PIPE
    if kwargs.pop("capture_output", False):
        kwargs["stdout"] = subprocess.PIPE
        kwargs["stderr"] = subprocess.PIPE
    with popen(cmd, group=group, **kwargs) as proc:
        try:
            stdout, stderr = proc.communicate(input, timeout=timeout)
        except BaseException:
            kill(proc, group)
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


def kill(proc: "subprocess.Popen[Any]", group: bool = False) -> None:
    """Kill a child started here (its whole group with ``group``) and wait for it."""
    try:
        if group:
            os.killpg(proc.pid, signal.SIGKILL)
        else:
            proc.kill()
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
