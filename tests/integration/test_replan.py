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
