"""The CLI's shape: subcommands import what they use (fast start), errors with --json, the lazy group."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: Run the real command line in a fresh interpreter and report what it imported.
PROBE = """
import atexit, json, sys
atexit.register(lambda: sys.stderr.write("MODULES " + json.dumps(sorted(sys.modules)) + "\\n"))
from streambuild.cli import main
main(sys.argv[1:])
"""
HEAVY = ("streambuild.koji", "streambuild.targets.container", "streambuild.forges", "streambuild.forgeconfig",
         "streambuild.acl", "koji", "pyrpkg", "requests")


def imported(*args: str, cwd: Path) -> tuple:
    proc = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True,
                          stdin=subprocess.DEVNULL, timeout=120)
    line = [l for l in proc.stderr.splitlines() if l.startswith("MODULES ")][-1]
    return proc, set(json.loads(line[len("MODULES "):]))


def heavy(modules: set) -> list:
    return sorted(m for m in modules if m.startswith(HEAVY))


def test_help_imports_no_subcommand(tmp_path) -> None:
    proc, modules = imported("--help", cwd=tmp_path)
    assert proc.returncode == 0 and "install" in proc.stdout
    ours = sorted(m for m in modules if m.startswith("streambuild"))
    assert ours == ["streambuild", "streambuild.cli"], ours


def test_install_help_imports_only_the_install_command(tmp_path) -> None:
    proc, modules = imported("install", "--help", cwd=tmp_path)
    assert proc.returncode == 0 and "[PACKAGE]..." in proc.stdout
    assert not any(m.startswith(("streambuild.stream", "streambuild.plugins", "streambuild.build")) for m in modules)
    assert heavy(modules) == []


def test_the_install_path_imports_neither_koji_nor_containers_nor_forges(tmp_path) -> None:
    seed = (Path(__file__).parents[1] / "data" / "seed.yaml").read_text()
    (tmp_path / "stream-build.yaml").write_text(seed[: seed.index("install:")] +
                                                "install:\n  type: installroot\n  path: root\n  packages: [vllm]\n")
    proc, modules = imported("install", "-y", cwd=tmp_path)
    assert proc.returncode == 2 and "the stream has not been built yet" in proc.stderr
    assert "streambuild.stream" in modules and "streambuild.frontend" in modules  # it got as far as the install
    assert heavy(modules) == []


@pytest.mark.parametrize("args, code", [(["status", "--json"], 2), (["build", "--json", "--frobnicate"], 2)])
def test_json_errors_are_an_object_on_stdout(tmp_path, args, code) -> None:
    (tmp_path / "stream-build.yaml").write_text((Path(__file__).parents[1] / "data" / "seed.yaml").read_text())
    proc = subprocess.run([sys.executable, "-m", "streambuild.cli", *args], cwd=tmp_path, capture_output=True,
                          text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == code
    error = json.loads(proc.stdout.strip().splitlines()[-1])
    assert error["event"] == "error" and error["exit_code"] == code and error["message"]
    assert "error" in proc.stderr.lower()  # and still said to a person


def test_every_problem_of_a_manifest_is_an_error_line_and_one_json_object(tmp_path) -> None:
    (tmp_path / "stream-build.yaml").write_text("base: fedora-44-x86_64\nbuild:\n- type: dist-gti\n  url: x\n"
                                                "  pakages: [a:b]\n")
    proc = subprocess.run([sys.executable, "-m", "streambuild.cli", "validate", "--json"], cwd=tmp_path,
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2
    lines = proc.stderr.splitlines()
    assert lines[0].startswith("stream-build: error: stream-build.yaml:3:9: build[0].type: 'dist-gti'")
    assert "(did you mean 'dist-git'?)" in lines[0]
    assert lines[1].startswith("stream-build: error: stream-build.yaml:5:3: build[0]: unknown key 'pakages' "
                               "(did you mean 'packages'? it is required)")
    error = json.loads(proc.stdout)
    assert error["error"] == "ManifestErrors" and len(error["problems"]) == 2
