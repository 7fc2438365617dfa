"""Every sandboxed command stream-build runs, in one place: bubblewrap (``bwrap``).

A sandbox sees the host's root read-only, a fresh ``/dev``, ``/proc`` and an empty
``/tmp``, no network (unless asked), none of the host's processes, and a clean
environment. Only the directories named ``writable`` can be written; directories that
the empty ``/tmp`` would hide (``readable``, the running interpreter and the project's own
code when they live under ``/tmp``) are bound back read-only. The sandboxed command dies
with stream-build (``--die-with-parent``) and cannot reach the terminal (``--new-session``).

Spec analysis runs here (rpm expands ``%(...)`` and ``%{lua:...}`` while parsing), and so do
the PEP 517 hooks that stand in for ``%generate_buildrequires``. Set ``STREAM_BUILD_SANDBOX=off``
to run such commands without bubblewrap on a host that cannot have it (trusted specs only:
this is printed as a warning each time).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .errors import EnvironmentProblem

__all__ = ["Sandbox", "available", "enabled", "command", "run", "DISABLE_VARIABLE"]

#: The environment variable that turns the sandbox off (value ``off``).
DISABLE_VARIABLE = "STREAM_BUILD_SANDBOX"

_PROBE_LOCK = threading.Lock()
_PROBED: Dict[str, Optional[str]] = {}

#: What a sandboxed command finds in its environment (plus ``Sandbox.env``).
BASE_ENV: Mapping[str, str] = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/tmp",
    "TMPDIR": "/tmp",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
}


@dataclass(frozen=True)
class Sandbox:
    """How one command is confined.

    :param writable: host directories bound read-write at the same path (they must exist).
    :param readable: host paths bound back read-only at the same path after ``/tmp`` is emptied.
    :param network: share the host's network (default: a network namespace with only ``lo``).
    :param env: variables added to :data:`BASE_ENV`.
    :param chdir: the working directory inside (default ``/``).
    :param fedora_shell: ``/bin/sh`` is bash inside, as on Fedora (Debian's is dash, and Fedora's
        specs use bash in ``%(...)``: ``${c:0:7}``, ``${t,,}``).
    """

    writable: Tuple[str, ...] = ()
    readable: Tuple[str, ...] = ()
    network: bool = False
    env: Mapping[str, str] = field(default_factory=dict)
    chdir: Optional[str] = None
    fedora_shell: bool = False


def enabled() -> bool:
    """Whether sandboxing is on (it is unless ``STREAM_BUILD_SANDBOX=off``)."""
    return os.environ.get(DISABLE_VARIABLE, "").strip().lower() not in ("off", "0", "no", "false")


def available(bwrap: str = "bwrap") -> Optional[str]:
    """``None`` when bubblewrap runs here, else why not (probed once per process)."""
    with _PROBE_LOCK:
        if bwrap in _PROBED:
            return _PROBED[bwrap]
        path = shutil.which(bwrap)
        if path is None:
            reason: Optional[str] = (
                "bubblewrap is not installed (Debian: apt install bubblewrap; Fedora: dnf install bubblewrap)"
            )
        else:
            try:
                proc = subprocess.run(
                    [path, "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--unshare-all",
                     "--die-with-parent", "--", "true"],
                    capture_output=True, timeout=30, stdin=subprocess.DEVNULL,
                )
                reason = None if proc.returncode == 0 else (
                    "bubblewrap cannot create a sandbox here ("
                    + (proc.stderr.decode("utf-8", "replace").strip() or f"exit code {proc.returncode}")
                    + "); user namespaces may be disabled (sysctl kernel.unprivileged_userns_clone=1)"
                )
            except (OSError, subprocess.TimeoutExpired) as exc:
                reason = f"bubblewrap cannot run: {exc}"
        _PROBED[bwrap] = reason
        return reason


def _interpreter_paths() -> List[str]:
    """The running interpreter and every import path: a sandboxed ``python -m streambuild...`` needs them."""
    paths = [sys.prefix, sys.exec_prefix, sys.base_prefix, os.path.dirname(os.path.realpath(sys.executable))]
    paths += [p for p in sys.path if p]
    return paths


def _under(path: str, top: str) -> bool:
    return path == top or path.startswith(top.rstrip("/") + "/")


def command(sandbox: Sandbox, argv: Sequence[str], what: str = "a sandboxed command") -> List[str]:
    """The command line that runs ``argv`` confined as ``sandbox`` says.

    With the sandbox turned off (:func:`enabled`), ``argv`` itself, after a warning on stderr.
    Raises :class:`EnvironmentProblem` (exit 4) when bubblewrap is needed and cannot run.
    """
    if not enabled():
        sys.stderr.write(f"stream-build: warning: {DISABLE_VARIABLE}=off: {what} runs without a sandbox\n")
        return list(argv)
    reason = available()
    if reason is not None:
        raise EnvironmentProblem(
            f"{what} must run in a sandbox, but {reason}; set {DISABLE_VARIABLE}=off to run it "
            "unconfined (only for specs you trust)"
        )
    cmd = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc", "--tmpfs", "/tmp",
           "--unshare-all", "--die-with-parent", "--new-session", "--clearenv"]
    if sandbox.network:
        cmd.append("--share-net")
    seen = set()
    for path in [*sandbox.readable, *_interpreter_paths()]:
        real = os.path.realpath(path)
        for candidate in {path, real}:
            if candidate in seen or not _under(candidate, "/tmp") or not os.path.exists(candidate):
                continue
            seen.add(candidate)
            cmd += ["--ro-bind", candidate, candidate]
    for path in sandbox.writable:
        real = os.path.realpath(path)
        cmd += ["--bind", real, real]
        if real != path and _under(path, "/tmp"):
            cmd += ["--bind", real, path]
    if sandbox.fedora_shell:
        shell, bash = os.path.realpath("/bin/sh"), shutil.which("bash")
        if bash and os.path.basename(shell) != "bash":
            cmd += ["--ro-bind", os.path.realpath(bash), shell]
    for name, value in {**BASE_ENV, **dict(sandbox.env)}.items():
        cmd += ["--setenv", name, value]
    cmd += ["--chdir", sandbox.chdir or "/", "--", *argv]
    return cmd


def run(sandbox: Sandbox, argv: Sequence[str], what: str, timeout: float,
        stdin: Optional[bytes] = None) -> Optional["subprocess.CompletedProcess[bytes]"]:
    """Run ``argv`` confined, its output captured; ``None`` when it is still running after ``timeout`` s.

    A command that overstays is killed with everything it started (its own session, and
    bubblewrap's ``--die-with-parent``).
    """
    cmd = command(sandbox, argv, what)
    try:
        proc = subprocess.Popen(cmd, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    except FileNotFoundError as exc:
        raise EnvironmentProblem(f"{what}: cannot start {cmd[0]}: {exc.strerror}") from None
    try:
        out, err = proc.communicate(stdin, timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.communicate()
        return None
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
