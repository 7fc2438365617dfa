"""The journal: every state transition of every run, one JSON line each.

Lines are appended and flushed to disk one by one, so after a crash or Ctrl-C the
journal tells what finished; a torn last line is ignored. ``--resume`` reads it to
continue the interrupted run from the same lock.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, List, Mapping, Optional


class Journal:
    """Appends events to ``journal.jsonl`` in the work directory."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._lock = threading.Lock()
        self.run_id: Optional[str] = None

    def start_run(self, **data: Any) -> str:
        self.run_id = uuid.uuid4().hex[:12]
        self.write({"event": "run-start", **data})
        return self.run_id

    def write(self, event: Mapping[str, Any]) -> None:
        record = {"time": round(time.time(), 3), "run": self.run_id, **event}
        line = json.dumps(record, sort_keys=True) + "\n"
        with self._lock:
            os.makedirs(os.path.dirname(self.path), exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as handle:
                handle.write(line)
                handle.flush()
                os.fsync(handle.fileno())


def read(path: str) -> Iterator[Dict[str, Any]]:
    try:
        handle = open(path, encoding="utf-8")
    except FileNotFoundError:
        return
    with handle:
        for line in handle:
            try:
                record = json.loads(line)
            except ValueError:
                continue  # a line torn by a crash
            if isinstance(record, dict):
                yield record


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
