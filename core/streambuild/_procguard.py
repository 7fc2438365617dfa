"""The guard in front of a command that runs in its own process group (see :mod:`streambuild.procs`).

Usage: ``python -I -S _procguard.py PARENT_PID -- COMMAND [ARG...]``. Run as the leader of a
new session, it asks the kernel for ``SIGHUP`` when its parent dies, starts the command in
its own process group, and waits for it. When the parent dies (or already has), it kills
the whole group, itself included. Otherwise it ends as the command ended: with its exit
code, or by the same signal. Standard library only: it runs without site packages.
"""

import ctypes
import ctypes.util
import os
import signal
import sys
from typing import List

PR_SET_PDEATHSIG = 1


def _kill_group(*_args: object) -> None:
    os.killpg(0, signal.SIGKILL)


def main(argv: List[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.stderr.write("usage: _procguard.py PARENT_PID -- COMMAND [ARG...]\n")
        return 2
    parent, command = int(argv[0]), argv[2:]
    signal.signal(signal.SIGHUP, _kill_group)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C is stream-build's to handle
    signal.signal(signal.SIGTERM, lambda *_: None)  # stopping the group: the command decides, we wait
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGHUP, 0, 0, 0)
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent:
        _kill_group()
    try:
        pid = os.fork()
    except OSError as exc:
        sys.stderr.write(f"stream-build: cannot start {command[0]}: {exc.strerror}\n")
        return 126
    if pid == 0:
        try:
            for number in (signal.SIGHUP, signal.SIGINT, signal.SIGTERM):
                signal.signal(number, signal.SIG_DFL)
            os.execvp(command[0], command)
        except OSError as exc:
            sys.stderr.write(f"stream-build: cannot run {command[0]}: {exc.strerror}\n")
            os._exit(127)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            break
        except ChildProcessError:
            return 0
        except InterruptedError:
            continue
    if os.WIFSIGNALED(status):
        killed = os.WTERMSIG(status)
        signal.signal(killed, signal.SIG_DFL)
        os.kill(os.getpid(), killed)
        return 128 + killed
    return os.WEXITSTATUS(status)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
