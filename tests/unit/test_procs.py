"""Children die with stream-build: real processes, killed with SIGKILL, looked for in /proc."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import List

import pytest

from streambuild import procs

pytestmark = pytest.mark.skipif(not procs.PDEATHSIG_AVAILABLE, reason="needs Linux's prctl(PR_SET_PDEATHSIG)")


def _token() -> str:
    """A sleep duration no other process on this machine uses, to find ours in /proc."""
    return f"{random.randint(200, 899)}.{random.randint(10**8, 10**9 - 1)}"


def _running(token: str) -> List[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as handle:
                args = handle.read().split(b"\0")
            with open(f"/proc/{entry}/stat") as handle:
                state = handle.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if token.encode() in args and state != "Z":
            found.append(int(entry))
    return found


def _gone(token: str, timeout: float = 5.0) -> bool:
    """Whether every process with ``token`` is gone, and stays gone for 0.3 s (not one between execs)."""
    deadline = time.monotonic() + timeout
    absent_since = None
    while time.monotonic() < deadline:
        if _running(token):
            absent_since = None
        elif absent_since is None:
            absent_since = time.monotonic()
        elif time.monotonic() - absent_since >= 0.3:
            return True
        time.sleep(0.05)
    return False


def _seen(token: str, count: int = 1, timeout: float = 5.0) -> bool:
    """Whether ``count`` processes with ``token`` appear (a child between two execs, setpriv's and
    the command's, can show an empty command line for a moment)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if len(_running(token)) >= count:
            return True
        time.sleep(0.02)
    return False


def _parent(code: str) -> "subprocess.Popen[str]":
    """A Python process that starts children as ``code`` says, prints 'ready' and waits to be killed."""
    program = textwrap.dedent(code) + "\nprint('ready', flush=True)\nimport time\ntime.sleep(600)\n"
    proc = subprocess.Popen([sys.executable, "-c", program], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _kill(proc: "subprocess.Popen[str]") -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def test_without_procs_a_killed_parent_leaves_its_children_running() -> None:
    """The control: what the tests below would find without the parent-death signal."""
    token = _token()
    parent = _parent(f"import subprocess\nsubprocess.Popen(['sleep', '{token}'], start_new_session=True)")
    _kill(parent)
    time.sleep(0.5)
    orphans = _running(token)
    for pid in orphans:
        os.kill(pid, signal.SIGKILL)
    assert orphans


@pytest.mark.parametrize("group", [False, True])
def test_a_child_dies_with_its_parent(group: bool) -> None:
    token = _token()
    parent = _parent(f"from streambuild import procs\nprocs.popen(['sleep', '{token}'], group={group})")
    assert _seen(token)
    _kill(parent)
    assert _gone(token)


def test_a_group_dies_whole_with_its_parent_even_what_it_started_in_the_background() -> None:
    token = _token()
    parent = _parent(f"""
        from streambuild import procs
        procs.popen(['sh', '-c', 'sleep {token} & sleep {token} & sleep {token}; wait'], group=True)
        import time
        time.sleep(0.5)
    """)
    assert _seen(token, 3) and len(_running(token)) == 3
    _kill(parent)
    assert _gone(token)


def test_a_child_started_from_a_worker_thread_dies_with_the_process() -> None:
    token = _token()
    parent = _parent(f"""
        import threading
        from streambuild import procs
        def work():
            procs.run(['sleep', '{token}'], group=True)
        threading.Thread(target=work, daemon=True).start()
        import time
        time.sleep(0.5)
    """)
    assert _seen(token)
    _kill(parent)
    assert _gone(token)


def test_run_passes_output_exit_codes_and_signals_through() -> None:
    assert procs.run(["sh", "-c", "cat; echo err >&2; exit 3"], input=b"in", capture_output=True).returncode == 3
    done = procs.run(["sh", "-c", "cat; echo err >&2"], input=b"in", capture_output=True, group=True)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"in", b"err\n")
    assert procs.run(["sh", "-c", "exit 7"], group=True).returncode == 7
    assert procs.run(["sh", "-c", "kill -TERM $$"], group=True).returncode == -signal.SIGTERM
    for group in (False, True):
        with pytest.raises(FileNotFoundError):
            procs.run(["no-such-command-anywhere"], group=group)


def test_a_timeout_kills_the_whole_group(tmp_path: Path) -> None:
    token = _token()
    with pytest.raises(subprocess.TimeoutExpired):
        procs.run(["sh", "-c", f"sleep {token} & sleep {token}"], group=True, timeout=0.5)
    assert _gone(token, 2.0)


def test_stopping_a_group_reaches_the_command_and_waits_for_it() -> None:
    proc = procs.popen(["sh", "-c", "trap 'echo stopped; exit 5' TERM; while :; do sleep 0.1; done"], group=True,
                       stdout=subprocess.PIPE)
    time.sleep(0.3)
    os.killpg(proc.pid, signal.SIGTERM)
    assert proc.wait(timeout=5) == 5 and proc.stdout is not None and proc.stdout.read() == b"stopped\n"
    proc.stdout.close()
