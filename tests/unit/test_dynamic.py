"""Generated BuildRequires learned before the build, on real sources, in the real sandbox."""

from __future__ import annotations

import io
import tarfile
import time
from pathlib import Path
from typing import Dict

import pytest

from conftest import loopback_listener, needs_rpm
from streambuild import dynamic, sandbox
from streambuild.analyse import Analysis, Generator
from streambuild.errors import AnalysisError

pytestmark = [needs_rpm, pytest.mark.skipif(sandbox.available() is not None, reason=f"{sandbox.available()}")]

PYPROJECT = '[build-system]\nrequires = ["setuptools>=61"]\nbuild-backend = "setuptools.build_meta"\n' \
            '[project]\nname = "tiny"\nversion = "1.0"\ndependencies = ["idna>=2.5"]\n'


def analysis(*generators: Generator, source: str = "tiny-1.0.tar.gz") -> Analysis:
    return Analysis("python-tiny", "1.0", "1", ("python3-devel",), (), generators=generators, sources=(source,))


def tarball(directory: Path, files: Dict[str, str], name: str = "tiny-1.0.tar.gz") -> Path:
    path = directory / name
    with tarfile.open(path, "w:gz") as tar:
        for member, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"tiny-1.0/{member}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_echo_requirements_need_nothing_to_run() -> None:
    found = dynamic.plan_time("x", analysis(Generator("echo", ("tinylib-devel >= 2",))), "/nonexistent", "3.14")
    assert found is not None and found.exact and found.requires == ("tinylib-devel >= 2",)


def test_without_sources_the_order_may_be_incomplete_and_says_so() -> None:
    found = dynamic.plan_time("python-tiny", analysis(Generator("pyproject")), "/nonexistent", "3.14")
    assert found is not None and not found.exact and not found.requires
    assert found.notes == ("python-tiny: %pyproject_buildrequires needs its sources (tiny-1.0.tar.gz is not at hand): "
                           "its generated BuildRequires are unknown and the order may be incomplete",)
    other = dynamic.plan_time("x", analysis(Generator("other", text="%R_buildrequires")), "/nonexistent", "3.14")
    assert "which only its build can answer here" in other.notes[0]


def test_the_hooks_run_sandboxed_on_the_sources(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    sources = tmp_path / "sources"
    sources.mkdir()
    with loopback_listener() as (port, reached):
        setup = (f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
                 "except OSError:\n    pass\n"
                 f"try:\n    open({str(outside)!r}, 'w').write('x')\nexcept OSError:\n    pass\n"
                 "from setuptools import setup\nsetup()\n")
        tarball(sources, {"pyproject.toml": PYPROJECT, "setup.py": setup})
        found = dynamic.plan_time("python-tiny", analysis(Generator("pyproject")), str(sources), "3.14", timeout=120)
    assert found is not None and found.exact, found
    assert "python3dist(idna) >= 2.5" in found.requires
    assert not reached and not outside.exists()  # no network, and nothing written outside its /tmp


def test_a_hanging_backend_is_a_note_not_a_hang(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    tarball(sources, {"pyproject.toml": PYPROJECT, "setup.py": "import time\ntime.sleep(600)\n"})
    start = time.monotonic()
    found = dynamic.plan_time("python-tiny", analysis(Generator("pyproject")), str(sources), "3.14", timeout=6)
    assert time.monotonic() - start < 30
    assert found is not None and not found.exact
    assert any("did not answer within" in n or "did not finish within" in n for n in found.notes), found.notes


def test_sources_the_build_would_refuse_are_an_analysis_error(tmp_path: Path) -> None:
    sources = tmp_path / "sources"
    sources.mkdir()
    tarball(sources, {"pyproject.toml": "[build-system\n"})
    with pytest.raises(AnalysisError, match=r"component python-tiny: tiny-1.0.tar.gz: pyproject.toml is not valid TOML"):
        dynamic.plan_time("python-tiny", analysis(Generator("pyproject")), str(sources), "3.14")


SPEC = """Name: gen
Version: 1
Release: 1
Summary: s
License: MIT
BuildArch: noarch
BuildRequires: static-dep
%description
d
%generate_buildrequires
{body}
%files
"""


def test_a_generator_round_runs_the_section_as_mock_does(tmp_path: Path) -> None:
    spec = tmp_path / "gen.spec"
    spec.write_text(SPEC.format(body="for d in tinylib-devel 'python3dist(foo) >= 2'; do echo \"$d\"; done"))
    found, why = dynamic.generator_round("gen", str(spec), str(tmp_path), (), str(tmp_path / "work"))
    assert why == "" and found is not None
    assert set(found) == {"static-dep", "tinylib-devel", "python3dist(foo) >= 2"}


def test_a_generator_round_that_hangs_or_fails_says_why(tmp_path: Path) -> None:
    spec = tmp_path / "gen.spec"
    spec.write_text(SPEC.format(body="sleep 600"))
    found, why = dynamic.generator_round("gen", str(spec), str(tmp_path), (), str(tmp_path / "w1"), timeout=3)
    assert found is None and why == "%generate_buildrequires did not finish within 3 s"
    spec.write_text(SPEC.format(body="exit 3"))
    found, why = dynamic.generator_round("gen", str(spec), str(tmp_path), (), str(tmp_path / "w2"))
    assert found is None and why
