"""%pyproject_buildrequires from a project's sources: options, PEP 517 hooks, and what is not TOML or not safe."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path
from typing import Dict

import pytest

from streambuild import pybuild

SETUPTOOLS = """[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "Tiny_Lib"
version = "1.0"
dependencies = ["idna>=2.5,<4", "tomli; python_version < '3.11'"]

[project.optional-dependencies]
socks = ["PySocks>=1.5.6"]

[dependency-groups]
test = ["pytest>=8", {include-group = "lint"}]
lint = ["ruff"]
"""

HATCHLING = SETUPTOOLS.replace('requires = ["setuptools>=61"]', 'requires = ["hatchling>=1.20"]').replace(
    '"setuptools.build_meta"', '"hatchling.build"')


def sdist(tmp_path: Path, files: Dict[str, str], top: str = "tiny_lib-1.0") -> Path:
    path = tmp_path / f"{top}.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        for name, text in files.items():
            data = text.encode()
            info = tarfile.TarInfo(f"{top}/{name}" if top else name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def run(archive: Path, *args: str) -> dict:
    return pybuild.run({"archive": str(archive), "args": list(args), "python_version": "3.14", "timeout": 60})


def test_options_as_fedoras_macro_reads_them() -> None:
    options = pybuild.parse_options(["-x", "socks,test", "-xdocs", "-R", "-g", "test", "-t", "reqs.txt"])
    assert options.extras == ["socks", "test", "docs"] and not options.runtime and options.groups == ["test"]
    assert options.tox and options.files == ["reqs.txt"]


def test_the_backends_own_hooks_answer(tmp_path: Path) -> None:
    result = run(sdist(tmp_path, {"pyproject.toml": SETUPTOOLS}), "-x", "socks", "-g", "test")
    assert result["ok"] and result["exact"], result
    requires = result["requires"]
    assert requires[:2] == ["python3-devel", "python3dist(setuptools) >= 61"]
    assert "(python3dist(idna) >= 2.5 with python3dist(idna) < 4)" in requires  # runtime, from the wheel's metadata
    assert "python3dist(pysocks) >= 1.5.6" in requires  # the extra asked for
    assert "python3dist(pytest) >= 8" in requires and "python3dist(ruff)" in requires  # a group, with its include
    assert not any("tomli" in r for r in requires)  # its marker is false for Python 3.14
    build_only = run(sdist(tmp_path, {"pyproject.toml": SETUPTOOLS}), "-R")["requires"]
    assert build_only[:2] == ["python3-devel", "python3dist(setuptools) >= 61"]
    assert not any("idna" in r for r in build_only)  # -R: no runtime requirements
    assert set(build_only[2:]) <= {"python3dist(wheel)"}  # what setuptools < 70 asks for itself


def test_a_backend_this_host_lacks_leaves_what_pyproject_lists(tmp_path: Path) -> None:
    pytest.importorskip("pyproject_hooks")
    try:
        import hatchling  # noqa: F401
        pytest.skip("hatchling is installed here")
    except ImportError:
        pass
    result = run(sdist(tmp_path, {"pyproject.toml": HATCHLING}), "-x", "socks")
    assert result["ok"] and not result["exact"]
    assert result["notes"] == ["the build backend hatchling.build is not installed here: only the requirements "
                               "pyproject.toml lists are known"]
    assert "python3dist(hatchling) >= 1.20" in result["requires"]
    assert "python3dist(pysocks) >= 1.5.6" in result["requires"]


def test_pyproject_that_is_not_toml(tmp_path: Path) -> None:
    result = run(sdist(tmp_path, {"pyproject.toml": "[build-system\nrequires = 1"}))
    assert not result["ok"] and result["error"].startswith("pyproject.toml is not valid TOML:")


def test_an_archive_with_members_outside_itself_is_refused(tmp_path: Path) -> None:
    result = run(sdist(tmp_path, {"../../escape.txt": "x", "pyproject.toml": SETUPTOOLS}, top=""))
    assert not result["ok"] and "refusing member '../../escape.txt'" in result["error"]
    assert not (tmp_path.parent / "escape.txt").exists()


def test_a_missing_dependency_group_is_named(tmp_path: Path) -> None:
    result = run(sdist(tmp_path, {"pyproject.toml": SETUPTOOLS}), "-g", "nope")
    assert not result["ok"] and result["error"] == "pyproject.toml has no dependency group 'nope'"
