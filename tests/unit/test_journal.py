from __future__ import annotations

from pathlib import Path

from streambuild.journal import Journal, last_run, runs


def test_last_run_and_torn_lines(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(str(path))
    journal.start_run(command="build")
    journal.write({"event": "component", "component": "a", "state": "done"})
    journal.write({"event": "run-end", "outcome": "ok"})
    second = journal.start_run(command="build")
    journal.write({"event": "component", "component": "a", "state": "building"})
    with open(path, "a") as handle:
        handle.write('{"event": "component", "compo')  # a crash in the middle of a line
    summary = last_run(str(path))
    assert summary is not None and summary.run == second
    assert summary.interrupted and summary.states["a"]["state"] == "building"
    assert len(runs(str(path))) == 2


def test_finished_and_interrupted_runs(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(str(path))
    journal.start_run()
    journal.write({"event": "run-end", "outcome": "failed"})
    assert not last_run(str(path)).interrupted  # type: ignore[union-attr]
    journal.start_run()
    journal.write({"event": "run-end", "outcome": "interrupted"})
    assert last_run(str(path)).interrupted  # type: ignore[union-attr]
    assert last_run(str(tmp_path / "none")) is None
