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
  guard asks for the parent-death signal itself, checks its parent, and then kills the
  whole group when it dies; stopping the group
  (``os.killpg(proc.pid, sig)``) reaches the guard and everything under it.

The signal is set before the command runs and the parent is checked afterwards, so a
parent that dies in between is noticed too. Use these instead of :mod:`subprocess`
for every command stream-build waits for (a command meant to outlive stream-build, such
as the detached ``--nowait`` build, is the exception).

How the signal is set: where util-linux's ``setpriv`` is installed, the child is
``setpriv --pdeathsig KILL -- /bin/sh -c 'check the parent; exec the command'``, started
the way :mod:`subprocess` starts a command when nothing runs in the child before it
(``vfork``): a Python ``preexec_fn`` makes it fork the whole interpreter instead, which
costs several times the command itself on a large process (15 ms against 3 here, in a
virtual machine whose page tables are slow to copy). Without ``setpriv`` the child sets
the signal itself, from that ``preexec_fn``.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import signal
import subprocess
import sys
from typing import Any, Callable, List, Optional, Sequence

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


#: ``setpriv`` (util-linux), when installed; see the module's docstring.
SETPRIV = shutil.which("setpriv") if _PRCTL is not None else None
#: Run by the shell between ``setpriv`` and the command: the parent is still the one that started it.
_CHECK_PARENT = '[ "$PPID" = "$0" ] && exec "$@"; exit 137'


def _tied(argv: List[str], env: Any, cwd: Any) -> Optional[List[str]]:
    """``argv`` behind ``setpriv --pdeathsig KILL`` and the parent check, or None without setpriv.

    The command is looked up here, so that a missing one is ``FileNotFoundError`` as from Popen.
    """
    if SETPRIV is None or not os.path.exists("/bin/sh"):
        return None
    found = _require_executable(argv[0], env, cwd)
    return [SETPRIV, "--pdeathsig", "KILL", "--", "/bin/sh", "-c", _CHECK_PARENT, str(os.getpid()), found, *argv[1:]]


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
        tied = _tied(argv, kwargs.get("env"), kwargs.get("cwd"))
        if tied is not None:
            return subprocess.Popen(tied, **kwargs)
        return subprocess.Popen(argv, preexec_fn=_die_with(os.getpid()), **kwargs)
    _require_executable(argv[0], kwargs.get("env"), kwargs.get("cwd"))
    guard = [_python(), "-I", "-S", GUARD, str(os.getpid()), "--", *argv]
    # the guard asks for its parent-death signal itself and then checks its parent, so nothing runs
    # in the child before it (no fork of this interpreter: see the module's docstring)
    return subprocess.Popen(guard, start_new_session=True, **kwargs)


def _require_executable(name: str, env: Any, cwd: Any) -> str:
    """Fail as Popen would (FileNotFoundError) when the command cannot be found, before the guard starts."""
    import shutil

    if os.sep in name:
        path = name if os.path.isabs(name) or cwd is None else os.path.join(cwd, name)
        found = path if os.access(path, os.X_OK) and not os.path.isdir(path) else None
    else:
        found = shutil.which(name, path=(env or os.environ).get("PATH", os.defpath))
    if found is None:
        raise FileNotFoundError(2, "No such file or directory", name)
    return found


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
