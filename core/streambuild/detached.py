"""A build handed to a process of its own (``--nowait`` with a backend that always waits).

``stream-build build --locked`` runs in its own session, logging to the work directory;
:func:`start_detached` returns once that run is in the journal, so that a ``watch`` right
after follows it. Shared by the CLI and fedpkg-stream (:func:`streambuild.frontend.run_build`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, List, Tuple

from .errors import StreamBuildError

if TYPE_CHECKING:
    from .stream import Stream

START_TIMEOUT = 120.0  # seconds a background build may take to lock, plan and start


@dataclass(frozen=True)
class Detached:
    """A build started in the background (``--nowait`` with a backend that always waits)."""

    pid: int
    log: str
    command: Tuple[str, ...]


def start_detached(stream: "Stream", backend: str, keep_going: bool, check: bool = True) -> Detached:
    """Start ``stream-build build --locked`` in its own session, logging to the work directory."""
    command: List[str] = [sys.executable, "-m", "streambuild.cli", "build", stream.manifest.path, "--locked",
                          "--workdir", stream.workdir.root, "--backend", backend, "--jobs", str(stream.jobs)]
    if keep_going:
        command.append("--keep-going")
    if not check:
        command.append("--no-check")
    if stream.config_path:
        command += ["--config", stream.config_path]
    os.makedirs(stream.workdir.path("logs"), exist_ok=True)
    log = stream.workdir.path("logs", f"nowait-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log")
    journal = stream.workdir.journal
    offset = os.path.getsize(journal) if os.path.exists(journal) else 0
    with open(log, "ab") as handle:
        proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=handle, stderr=handle,
                                start_new_session=True, close_fds=True)
    # return once the run is in the journal, so that a 'watch' right after follows this run
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None and not _started_since(journal, offset):
        time.sleep(0.05)
    if proc.poll() not in (None, 0) and not _started_since(journal, offset):
        with open(log, encoding="utf-8", errors="replace") as handle:
            tail = handle.read()[-2000:].strip()
        error = StreamBuildError(f"the background build stopped at once: {tail or 'no output'} (log: {log})")
        error.exit_code = proc.returncode or 1  # its own exit code: bad input, policy, environment
        raise error
    return Detached(proc.pid, log, tuple(command))


def _started_since(journal: str, offset: int) -> bool:
    try:
        with open(journal, "rb") as handle:
            handle.seek(offset)
            return b'"event": "run-start"' in handle.read()
    except OSError:
        return False
