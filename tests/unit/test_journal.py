from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from streambuild.journal import Journal, last_run, read, runs


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


def test_a_torn_line_never_swallows_the_next_run(tmp_path: Path) -> None:
    """A crash mid-line, then a successful run: that run is the last one, and it is not resumable."""
    path = tmp_path / "journal.jsonl"
    crashed = Journal(str(path))
    crashed.start_run(command="build")
    crashed.write({"event": "component", "component": "a", "state": "building"})
    with open(path, "a") as handle:
        handle.write('{"event": "component", "component": "a", "sta')  # kill -9 in the middle of a line
    after = Journal(str(path))
    run = after.start_run(command="build")
    after.write({"event": "run-end", "outcome": "ok"})
    summary = last_run(str(path))
    assert summary is not None and summary.run == run and not summary.interrupted
    assert path.read_bytes().endswith(b"\n") and len(runs(str(path))) == 2


def test_a_last_line_without_its_newline_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(str(path))
    journal.start_run()
    with open(path, "a") as handle:
        handle.write('{"event": "run-end", "outcome": "ok", "run": "%s"}' % journal.run_id)  # no newline yet
    assert last_run(str(path)).interrupted  # type: ignore[union-attr]


def test_credentials_in_records_are_redacted_but_not_the_lock(tmp_path: Path) -> None:
    path = tmp_path / "journal.jsonl"
    journal = Journal(str(path))
    journal.start_run(lock={"components": [{"url": "https://u:tok@h/a.git"}]})
    journal.write({"event": "component", "message": "cannot reach https://u:tok@h/a.git", "n": [{"u": "ssh://git@h/x"}]})
    records = list(read(str(path)))
    assert records[0]["lock"]["components"][0]["url"] == "https://u:tok@h/a.git"
    assert records[1]["message"] == "cannot reach https://***@h/a.git" and records[1]["n"] == [{"u": "ssh://***@h/x"}]


def _can_mount() -> bool:
    return shutil.which("unshare") is not None and subprocess.run(
        ["unshare", "-m", "true"], capture_output=True).returncode == 0


FULL_DISK = """
import json, os, sys
from streambuild.errors import DiskFull
from streambuild.journal import Journal, last_run
mount = sys.argv[1]
journal = Journal(os.path.join(mount, "w", "journal.jsonl"))
journal.start_run(command="build")
filler = os.open(os.path.join(mount, "filler"), os.O_WRONLY | os.O_CREAT)
try:
    while True:
        os.write(filler, b"x" * 4096)
except OSError:
    os.close(filler)
before = open(journal.path, "rb").read()
try:
    journal.write({"event": "component", "component": "a", "state": "done", "message": "m" * 6000})
except DiskFull as exc:
    print(json.dumps({"error": str(exc), "code": exc.exit_code,
                      "unchanged": open(journal.path, "rb").read() == before,
                      "interrupted": last_run(journal.path).interrupted}))
"""


@pytest.mark.skipif(not _can_mount(), reason="needs unshare -m and mount (root)")
def test_a_full_disk_is_exit_4_and_leaves_the_journal_as_it_was(tmp_path: Path) -> None:
    mount = tmp_path / "small"
    mount.mkdir()
    script = f'mount -t tmpfs -o size=64k tmpfs "$1" && exec "{sys.executable}" -c "$0" "$1"'
    proc = subprocess.run(["unshare", "-m", "sh", "-c", script, FULL_DISK, str(mount)], capture_output=True, text=True)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    result = json.loads(proc.stdout)
    assert result["code"] == 4 and result["unchanged"] and result["interrupted"]
    assert result["error"].startswith(f"no space left on the file system at {mount}, 0 KiB free: writing the journal")
