"""A re-plan of an unchanged, locked stream needs no network: the forge may be gone."""

from __future__ import annotations

import pytest

import localforge
from conftest import cli, needs_rpm

pytestmark = [pytest.mark.integration, needs_rpm]


def test_a_no_change_re_plan_asks_no_remote_and_plans_the_same(tmp_path):
    with localforge.LocalForge(tmp_path / "forge") as forge:
        m = forge.write_manifest(tmp_path / "s.yaml")
        first = cli("plan", str(m), "--json")
        assert first.code == 0, first.stderr
    # the forge is stopped: its git daemon and lookaside answer nothing now
    again = cli("plan", str(m), "--json")
    assert again.code == 0, again.stderr
    assert again.stdout == first.stdout
    assert "warning" not in again.stderr  # nor is it asked whether the locked branches moved


def test_a_re_plan_reads_the_kept_plan_and_a_damaged_one_is_made_again(tmp_path):
    with localforge.LocalForge(tmp_path / "forge") as forge:
        m = forge.write_manifest(tmp_path / "s.yaml")
        first = cli("plan", str(m), "--json")
        assert first.code == 0, first.stderr
    kept = tmp_path / ".stream-build" / "plan.json"
    made = kept.stat()
    again = cli("plan", str(m), "--json")
    assert again.code == 0 and again.stdout == first.stdout, again.stderr
    assert (kept.stat().st_ino, kept.stat().st_mtime_ns) == (made.st_ino, made.st_mtime_ns)  # read, not made again
    kept.write_bytes(kept.read_bytes()[:100])  # cut short, as by a crash on a file system without ordering
    damaged = cli("plan", str(m), "--json")
    assert damaged.code == 0 and damaged.stdout == first.stdout, damaged.stderr
    assert kept.stat().st_size == made.st_size  # made again and kept again
