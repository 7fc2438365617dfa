"""Build backends: what a backend is given for one component, and what it returns."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Iterable, List, Optional, Protocol, Sequence, Tuple

from ..base import Base
from ..errors import EnvironmentProblem

if TYPE_CHECKING:
    from ..buildreqs import Resolution


@dataclass(frozen=True)
class BuildJob:
    """Everything a backend needs to build one component."""

    component: str
    spec_path: str
    source_dir: str
    macros: Tuple[Tuple[str, str], ...]
    dependency_rpms: Tuple[str, ...]  # binary RPMs of the components it needs, transitively
    work_dir: str  # scratch space, removed after the build
    output_dir: str  # where the RPMs and the SRPM must end up
    log_path: str
    base: Base
    cancel: Optional[threading.Event] = field(default=None, compare=False)  # set on Ctrl-C: stop now


@dataclass(frozen=True)
class BuildOutcome:
    ok: bool
    rpms: Tuple[str, ...] = ()
    srpm: Optional[str] = None
    message: str = ""
    # where each BuildRequire came from (stream RPM, host package, assumed from the host, missing),
    # when the backend resolved them itself (local); None when it did not (mock, koji)
    resolution: Optional["Resolution"] = None


class Backend(Protocol):
    name: str

    def build(self, job: BuildJob) -> BuildOutcome:
        """Build ``job``; never raise for a failed build, return ``ok=False`` with a message."""


#: The backend that ``--backend auto`` (the default) stands for.
AUTO = "auto"


def choose(name: str, registered: Iterable[str]) -> Tuple[str, str]:
    """The backend ``name`` means, and why: ``auto`` is mock where mock is installed, local otherwise."""
    if name != AUTO:
        return name, f"--backend {name}"
    if "mock" in registered and shutil.which("mock") is not None:
        return "mock", "mock is installed: each component is built in a mock chroot of the base"
    return "local", "mock is not installed: each component is built in a build root over this host"


def run_logged(
    cmd: Sequence[str],
    log: IO[str],
    cwd: Optional[str] = None,
    timeout: Optional[float] = None,
    cancel: Optional[threading.Event] = None,
) -> int:
    """Run a command with its output appended to an open log; return its exit code.

    When ``cancel`` is set (the run was interrupted) the command is not started, or is
    terminated, and 130 is returned.
    """
    log.write("$ " + " ".join(cmd) + "\n")
    log.flush()
    if cancel is not None and cancel.is_set():
        log.write("[stream-build] interrupted before start\n")
        return 130
    try:
        # its own process group, so that stopping it stops everything it started (rpmbuild's %build shell)
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, start_new_session=True)
    except FileNotFoundError:
        raise EnvironmentProblem(f"{cmd[0]} is not installed") from None
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        try:
            code = proc.wait(timeout=0.2)
            log.flush()
            return code
        except subprocess.TimeoutExpired:
            pass
        if cancel is not None and cancel.is_set():
            _stop(proc)
            log.write("\n[stream-build] interrupted\n")
            return 130
        if deadline is not None and time.monotonic() > deadline:
            _stop(proc)
            log.write(f"\n[stream-build] timed out after {timeout} s\n")
            return 124


def _stop(proc: "subprocess.Popen[bytes]") -> None:
    """Terminate a command's whole process group; kill it if it does not go within 5 s."""
    for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        try:
            proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    proc.wait()


def collect(directory: str, suffix: str) -> List[str]:
    found = []
    for root, _dirs, files in os.walk(directory):
        found += [os.path.join(root, f) for f in files if f.endswith(suffix)]
    return sorted(found)


def log_tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return "".join(handle.readlines()[-lines:])
    except OSError:
        return ""
