"""Every example command in README's "Examples" runs, in order, against the example's dist-git on loopback."""

from __future__ import annotations

import json
import re
import shlex

import pytest

import localforge
from conftest import ROOT, cli, needs_rpm

pytestmark = [pytest.mark.integration, needs_rpm]


def examples() -> list:
    text = (ROOT / "README.md").read_text()
    block = text[text.index("### Examples"):]
    block = block[block.index("```console\n") + len("```console\n"):]
    block = block[: block.index("```")]
    commands = [shlex.split(line[2:]) for line in block.splitlines() if line.startswith("$ ")]
    assert commands and all(c[0] == "stream-build" for c in commands)
    return commands


def test_the_readme_examples_run(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STREAM_BUILD_CONFIG", str(tmp_path / "forges.toml"))
    (tmp_path / "forges.toml").write_text("")
    with localforge.LocalForge(tmp_path / "forge") as forge:
        work = tmp_path / "stream"
        forge.write_manifest(work / "stream-build.yaml")
        outputs = []
        for command in examples():
            out = cli(*command[1:], cwd=work)
            assert out.code == 0, f"{' '.join(command)}: {out.stderr}"
            outputs.append(out)
    names = [" ".join(c[1:]) for c in examples()]
    by_command = dict(zip(names, outputs))
    assert "3 built" in by_command["build -j 2"].stdout
    assert re.search(r"installed \d+ packages into .*/root", by_command["install -y --installroot root tinyllm"].stdout)
    assert "started in the background" in by_command["build --nowait --backend local"].stdout
    assert by_command["watch"].stdout.rstrip().endswith("ended: ok")
    assert json.loads(by_command["plan --json --locked"].stdout)["batches"] == [["tinypython3.11"], ["tinytorch"], ["tinyllm"]]
    assert json.loads(by_command["status --json"].stdout)["state"] == "finished: ok"
