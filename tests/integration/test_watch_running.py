"""``stream-build watch`` from another terminal, on a real build in progress."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import add_package, cli, manifest, needs_rpm, spec

pytestmark = [pytest.mark.integration, needs_rpm]


def start_build(m: Path) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "streambuild.cli", "build", str(m), "--json"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    journal = m.parent / ".stream-build" / "journal.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (journal.exists() and '"run-start"' in journal.read_text()):
        assert proc.poll() is None, proc.stderr.read()  # type: ignore[union-attr]
        time.sleep(0.05)
    return proc


def test_watch_follows_a_running_build_to_its_end(forge, tmp_path):
    add_package(forge, "quick", "main", {"quick.spec": spec("quick")})
    add_package(forge, "slow", "main", {"slow.spec": spec("slow", buildrequires=["quick"], build="sleep 2")})
    m = manifest(tmp_path / "s.yaml", forge, ["quick:main", "slow:main"])
    build = start_build(m)
    try:
        watched = cli("watch", str(m))
    finally:
        build.wait(timeout=120)
    assert build.returncode == 0
    assert watched.code == 0, watched.stderr
    lines = watched.stdout.splitlines()
    assert "started (build, backend local)" in lines[0]
    assert any("✓ quick done" in l for l in lines)
    assert any("✓ slow done (" in l for l in lines)
    assert lines[-1].endswith("ended: ok")
    again = cli("watch", str(m), "--json")  # a finished run: replayed at once
    last = again.events()[-1]
    assert again.code == 0 and (last["event"], last["outcome"]) == ("run-end", "ok")


def test_watch_reports_a_build_that_was_killed(forge, tmp_path):
    add_package(forge, "slow", "main", {"slow.spec": spec("slow", build="sleep 60")})
    m = manifest(tmp_path / "s.yaml", forge, ["slow:main"])
    build = start_build(m)
    journal = m.parent / ".stream-build" / "journal.jsonl"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and '"building"' not in journal.read_text():
        time.sleep(0.05)
    os.killpg(build.pid, signal.SIGKILL)  # no run-end is ever written
    build.wait()
    watched = cli("watch", str(m))
    assert watched.code == 1
    assert "was interrupted" in watched.stderr and "--resume" in watched.stderr
    assert "… slow building" in watched.stdout


def test_watch_with_no_run(forge, tmp_path):
    m = manifest(tmp_path / "s.yaml", forge, ["slow:main"])
    out = cli("watch", str(m))
    assert out.code == 2 and "no run recorded" in out.stderr
