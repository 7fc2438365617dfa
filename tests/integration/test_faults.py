"""Faults and hostile input on real parts: corrupt locks, full disks, dripping servers, kill -9, orphans."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import cli, needs_rpm

pytestmark = [pytest.mark.integration, needs_rpm]


@pytest.mark.parametrize("corrupt, where", [
    ('{"version": true, "base": "fedora-44-x86_64", "components": []}', "1:13"),
    ('{\n  "version": 1,\n', "3:1"),
    ("\xff\xfe", "1:1"),
    ('{"version": 1, "version": 1}', "1:16"),
])
def test_lock_replaces_a_corrupt_lock_and_keeps_it_aside(forge, tmp_path, corrupt, where):
    m = forge.write_manifest(tmp_path / "s.yaml")
    lock = tmp_path / "s.lock"
    lock.write_bytes(corrupt.encode("latin-1"))
    refused = cli("build", str(m))
    assert refused.code == 2 and refused.stderr.startswith(f"stream-build: error: {lock}:{where}: "), refused.stderr
    assert "run 'stream-build lock' to write a new lock; it keeps this one as s.lock.corrupt" in refused.stderr
    assert lock.read_bytes() == corrupt.encode("latin-1")  # nothing was changed
    out = cli("lock", str(m))
    assert out.code == 0, out.stderr
    assert f"kept the unreadable lock as {lock}.corrupt" in out.stderr
    assert (tmp_path / "s.lock.corrupt").read_bytes() == corrupt.encode("latin-1")
    assert [c["name"] for c in json.loads(lock.read_text())["components"]] == ["tinypython3.11", "tinytorch", "tinyllm"]
    assert cli("plan", str(m), "--locked").code == 0
