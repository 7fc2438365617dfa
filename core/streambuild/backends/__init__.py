"""Build backends: what a backend is given for one component, and what it returns."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from typing import IO, List, Optional, Protocol, Sequence, Tuple

from ..base import Base
from ..errors import EnvironmentProblem


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


@dataclass(frozen=True)
class BuildOutcome:
    ok: bool
    rpms: Tuple[str, ...] = ()
    srpm: Optional[str] = None
    message: str = ""


class Backend(Protocol):
    name: str

    def build(self, job: BuildJob) -> BuildOutcome:
        """Build ``job``; never raise for a failed build, return ``ok=False`` with a message."""


def run_logged(cmd: Sequence[str], log: IO[str], cwd: Optional[str] = None, timeout: Optional[float] = None) -> int:
    """Run a command with its output appended to an open log; return its exit code."""
    log.write("$ " + " ".join(cmd) + "\n")
    log.flush()
    try:
        proc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=cwd, timeout=timeout)
    except FileNotFoundError:
        raise EnvironmentProblem(f"{cmd[0]} is not installed") from None
    except subprocess.TimeoutExpired:
        log.write(f"\n[stream-build] timed out after {timeout} s\n")
        return 124
    log.flush()
    return proc.returncode


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
