"""Following a run through the journal: replay, follow, end, and runs whose process is gone."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from pathlib import Path

import pytest

from streambuild import watch
from streambuild.errors import BuildFailed, InputError


def line(**record) -> str:
    return json.dumps(record, sort_keys=True) + "\n"


def holder(tmp_path: Path, pid: int) -> Path:
    lock = tmp_path / "lock"
    lock.write_text(f"{pid}\n")
    return lock


def collect(journal: Path, lock: Path):
    seen = []
    outcome = watch.watch(str(journal), str(lock), seen.append, poll=0.02)
    return outcome, seen


def test_a_finished_run_is_replayed_from_its_start(tmp_path) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.write_text(
        line(event="run-start", run="old", time=1.0)
        + line(event="run-end", run="old", outcome="failed", time=2.0)
        + line(event="run-start", run="new", time=10.0, command="build", backend="local")
        + line(event="component", run="new", component="a", state="building", time=11.0)
        + line(event="component", run="new", component="a", state="done", time=12.5, duration=1.5)
        + line(event="run-end", run="new", outcome="ok", time=13.0)
    )
    outcome, seen = collect(journal, holder(tmp_path, 999999))
    assert outcome == watch.Outcome("new", "ok")
    assert [e["event"] for e in seen] == ["run-start", "component", "component", "run-end"]
    outcome.raise_for_outcome()
    printed: list = []
    watch.print_run(str(tmp_path), False, printed.append)
    text = printed
    assert text[0] == "[00:00] run new started (build, backend local)"
    assert text[2] == "[00:02] ✓ a done (1.5 s)"
    assert text[3] == "[00:03] run new ended: ok"


def test_a_running_build_is_followed_until_it_ends(tmp_path) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.write_text(line(event="run-start", run="r", time=1.0))
    sleeper = subprocess.Popen(["sleep", "30"])  # a live process holds the work directory
    try:
        lock = holder(tmp_path, sleeper.pid)

        def build() -> None:
            time.sleep(0.2)
            with open(journal, "a") as handle:
                handle.write(line(event="component", run="r", component="a", state="done", time=2.0)[:20])
                handle.flush()  # a torn line: the watcher waits for the rest
                time.sleep(0.1)
                handle.write(line(event="component", run="r", component="a", state="done", time=2.0)[20:])
                handle.write(line(event="run-end", run="r", outcome="failed", time=3.0))

        writer = threading.Thread(target=build)
        writer.start()
        outcome, seen = collect(journal, lock)
        writer.join()
    finally:
        sleeper.kill()
        sleeper.wait()
    assert outcome == watch.Outcome("r", "failed")
    assert [e.get("state") for e in seen if e["event"] == "component"] == ["done"]
    with pytest.raises(BuildFailed, match="run r failed"):
        outcome.raise_for_outcome()


def test_a_run_whose_process_is_gone_is_interrupted(tmp_path) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.write_text(line(event="run-start", run="r", time=1.0)
                       + line(event="component", run="r", component="a", state="building", time=2.0))
    gone = subprocess.Popen(["true"])
    gone.wait()
    outcome, seen = collect(journal, holder(tmp_path, gone.pid))
    assert outcome == watch.Outcome("r", "interrupted") and len(seen) == 2
    with pytest.raises(BuildFailed, match="was interrupted"):
        outcome.raise_for_outcome()


def test_a_later_run_ends_the_one_being_watched(tmp_path) -> None:
    journal = tmp_path / "journal.jsonl"
    journal.write_text(line(event="run-start", run="r1", time=1.0))
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        def next_run() -> None:
            with open(journal, "a") as handle:
                handle.write(line(event="run-start", run="r2", time=5.0))

        threading.Timer(0.2, next_run).start()
        outcome, _ = collect(journal, holder(tmp_path, sleeper.pid))
    finally:
        sleeper.kill()
        sleeper.wait()
    assert outcome == watch.Outcome("r1", "interrupted")


def test_nothing_to_watch(tmp_path) -> None:
    with pytest.raises(InputError, match="no run recorded"):
        collect(tmp_path / "journal.jsonl", tmp_path / "lock")
    (tmp_path / "journal.jsonl").write_text(line(event="component", run=None, component="a", state="done"))
    with pytest.raises(InputError, match="no run recorded"):
        collect(tmp_path / "journal.jsonl", tmp_path / "lock")


def test_holder_alive(tmp_path) -> None:
    assert not watch.holder_alive(str(tmp_path / "missing"))
    (tmp_path / "garbage").write_text("not a pid\n")
    assert not watch.holder_alive(str(tmp_path / "garbage"))
    sleeper = subprocess.Popen(["sleep", "30"])
    try:
        assert watch.holder_alive(str(holder(tmp_path, sleeper.pid)))
    finally:
        sleeper.kill()
        sleeper.wait()
    assert not watch.holder_alive(str(holder(tmp_path, sleeper.pid)))
