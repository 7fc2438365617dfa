"""The journal: every state transition of every run, one JSON line each.

A line is appended with one ``write`` on a file opened for appending, ends with a newline
and is flushed to disk (``fsync``) before the next transition, so after a crash or Ctrl-C
the journal tells what finished. A line without its newline was torn by a crash: readers
ignore it, and the next append first ends it, so that it can never swallow the next record.
A write that fails (a full disk is :class:`~streambuild.errors.DiskFull`, exit 4) leaves
the journal as it was before it. ``--resume`` reads the journal to continue the
interrupted run from the same lock.

Strings in records are written through :func:`streambuild.values.redact` (no user
information of URLs), except the ``lock`` a run starts from, which ``--resume`` compares
with the lock file and which holds what the lock file beside the manifest holds.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional, Set

from . import values
from .workdir import disk_full, is_disk_full

#: The journals opened by this process (see :func:`interrupted_runs`).
_OPENED: Set[str] = set()


class Journal:
    """Appends events to ``journal.jsonl`` in the work directory."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.run_id: Optional[str] = None
        _OPENED.add(os.path.abspath(path))

    def start_run(self, **data: Any) -> str:
        self.run_id = uuid.uuid4().hex[:12]
        self.write({"event": "run-start", **data})
        return self.run_id

    def write(self, event: Mapping[str, Any]) -> None:
        record = {key: (value if key == "lock" else _redacted(value)) for key, value in event.items()}
        record = {"time": round(time.time(), 3), "run": self.run_id, **record}
        line = (json.dumps(record, sort_keys=True, default=str) + "\n").encode("utf-8")
        with self._lock:
            try:
                os.makedirs(os.path.dirname(self.path), exist_ok=True)
                _append(self.path, line)
            except OSError as exc:
                if is_disk_full(exc):
                    raise disk_full(self.path, "writing the journal") from None
                raise


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return values.redact(value)
    if isinstance(value, Mapping):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_redacted(v) for v in value]
    return value


def _append(path: str, line: bytes) -> None:
    """Append ``line`` whole and on disk, ending a torn last line first; on failure, undo."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        size = os.fstat(fd).st_size
        if size and os.pread(fd, 1, size - 1) != b"\n":
            line = b"\n" + line  # a line torn by a crash: end it, and it is ignored on reading
        try:
            view = memoryview(line)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        except OSError:
            try:
                os.ftruncate(fd, size)  # no half line from us: the journal is as it was
            except OSError:
                pass
            raise
    finally:
        os.close(fd)


def read(path: str) -> Iterator[Dict[str, Any]]:
    """The records of a journal; torn lines (without their newline, or not JSON) are skipped."""
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        return
    with handle:
        for raw in handle:
            if not raw.endswith(b"\n"):
                continue  # torn by a crash (or being written right now)
            try:
                record = json.loads(raw)
            except ValueError:
                continue  # a line torn by an earlier crash, ended by the next append
            if isinstance(record, dict):
                yield record


def interrupted_runs() -> List[str]:
    """The journals opened by this process whose last run was interrupted: what ``--resume`` can continue."""
    found = []
    for path in sorted(_OPENED):
        summary = last_run(path)
        if summary is not None and summary.interrupted:
            found.append(path)
    return found


@dataclass
class RunSummary:
    """The last run in a journal: its start record, whether it ended, and each component's last state."""

    run: str
    start: Dict[str, Any]
    ended: Optional[Dict[str, Any]] = None
    states: Dict[str, Dict[str, Any]] = field(default_factory=dict)
    audits: Dict[str, Dict[str, Any]] = field(default_factory=dict)  # the series audit, by component
    added_edges: List[Dict[str, Any]] = field(default_factory=list)  # edges learned while building

    @property
    def interrupted(self) -> bool:
        """The run was stopped (Ctrl-C) or crashed before it could finish."""
        return self.ended is None or self.ended.get("outcome") == "interrupted"


def last_run(path: str) -> Optional[RunSummary]:
    summary: Optional[RunSummary] = None
    for record in read(path):
        if record.get("event") == "run-start":
            summary = RunSummary(record.get("run") or "", record)
        elif summary is not None and record.get("run") == summary.run:
            if record.get("event") == "run-end":
                summary.ended = record
            elif record.get("event") == "component":
                summary.states[record["component"]] = record
            elif record.get("event") == "audit":
                summary.audits[record["component"]] = record
            elif record.get("event") == "edge-added":
                summary.added_edges.append(record)
    return summary


def runs(path: str) -> List[str]:
    return [r["run"] for r in read(path) if r.get("event") == "run-start"]
