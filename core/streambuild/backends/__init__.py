"""Build backends: what a backend is given for one component, and what it returns."""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Iterable, List, Optional, Protocol, Sequence, Tuple

from .. import procs, values
from ..base import Base
from ..errors import EnvironmentProblem
from ..workdir import disk_full, nearly_full

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
    #: BuildRequires learned before the build (``%generate_buildrequires``), to resolve with the SRPM's own
    generated_requires: Tuple[str, ...] = ()
    #: the source package's BuildRequires as the analysis read them with rpm and the build's own macros
    #: (stand-ins for the Fedora macros the host lacks included): a backend may build from them, and must
    #: check the SRPM's own after
    expected_requires: Optional[Tuple[str, ...]] = None

    def __post_init__(self) -> None:
        # rpm expands macros in paths: the boundaries (options, manifest, work directory) refuse '%',
        # and a job never reaches a backend with a path that would run code
        for what in ("spec_path", "source_dir", "work_dir", "output_dir", "log_path"):
            values.check_path(getattr(self, what), what.replace("_", " "))
        for path in self.dependency_rpms:
            values.check_path(path, "dependency RPM")


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
    log.write("$ " + values.redact(" ".join(cmd)) + "\n")
    log.flush()
    if cancel is not None and cancel.is_set():
        log.write("[stream-build] interrupted before start\n")
        return 130
    try:
        # its own process group, so that stopping it stops everything it started (rpmbuild's %build
        # shell), and the whole group dies with stream-build (procs: a parent-death signal)
        proc = procs.popen(cmd, group=True, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, stdin=subprocess.DEVNULL)
    except FileNotFoundError:
        raise EnvironmentProblem(f"{cmd[0]} is not installed") from None
    deadline = None if timeout is None else time.monotonic() + timeout
    ended = _exit_watch(proc.pid)
    try:
        while True:
            try:
                if ended is not None:  # woken the moment it ends (Popen.wait with a timeout polls: up to 50 ms late)
                    select.select([ended], [], [], 0.2)
                    code = proc.wait(timeout=0) if proc.poll() is None else proc.returncode
                else:
                    code = proc.wait(timeout=0.2)
                log.flush()
                if code != 0:
                    _check_disk(cmd, log, cwd)
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
    finally:
        if ended is not None:
            os.close(ended)


def _exit_watch(pid: int) -> Optional[int]:
    """A descriptor that becomes readable when process ``pid`` ends (Linux 5.3's pidfd), or None."""
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def _check_disk(cmd: Sequence[str], log: IO[str], cwd: Optional[str]) -> None:
    """Raise :class:`~streambuild.errors.DiskFull` when a failed command failed because a disk filled up:
    it said so in its log, or the file system of its log or working directory has (almost) no space left."""
    name = getattr(log, "name", None)
    tail = log_tail(name, 40) if isinstance(name, str) else ""
    said = "No space left on device" in tail or "Disk quota exceeded" in tail
    for path in (p for p in (name, cwd) if isinstance(p, str)):
        if said or nearly_full(path):
            last = next((line.strip() for line in reversed(tail.splitlines()) if "space" in line or "quota" in line), "")
            tool = os.path.basename(cmd[0])
            raise disk_full(path, f"{tool} ({last})" if last else tool)


def _stop(proc: "subprocess.Popen[bytes]") -> None:
    """Terminate a command's whole process group; kill what is left of it after 5 s, or at once
    when the command has ended (what it started in the background goes with it)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=5.0)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass
    procs.kill(proc, group=True)


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
