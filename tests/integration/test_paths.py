"""Paths are data: a path holding rpm macro syntax is refused before rpm, rpmbuild or DNF can expand it.

rpm expands macros in every path it is given (the first test shows it with the real rpm),
so ``%(touch ...)`` in an installroot, a work directory, or the directory of the manifest
(under which the topdir, the rpm database and the spec files live) would run a shell, and
``%{lua: os.execute(...)}`` Lua. Each such path is refused with exit 2, naming it, and the
command the payload carries never runs.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Iterator, Tuple

import pytest

import localforge
from conftest import cli, needs_rpm

pytestmark = [pytest.mark.integration, needs_rpm]

PAYLOADS = {
    "shell": "%(touch {marker})",
    "lua": '%{{lua: os.execute("touch {marker}")}}',
}


def _hostile(base: Path, kind: str) -> Tuple[Path, Path]:
    """A path under ``base`` that runs ``touch MARKER`` if rpm expands it, and the marker."""
    marker = base / f"pwned-{kind}"
    return base / ("x-" + PAYLOADS[kind].format(marker=marker)), marker


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("option", ["--dbpath", "--root"])
def test_rpm_really_expands_macros_in_paths(tmp_path, kind, option):
    """The hazard, shown with the real rpm: the payloads below are live."""
    path, marker = _hostile(tmp_path, kind)
    subprocess.run(["rpm", option, str(path), "-qa"], capture_output=True)
    assert marker.exists()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Iterator[Tuple[localforge.LocalForge, Path]]:
    """The example stream, built once, with its manifest at a clean path."""
    root = tmp_path_factory.mktemp("paths")
    with localforge.LocalForge(root / "forge") as forge:
        manifest = forge.write_manifest(root / "stream" / "s.yaml", root / "stream" / "installroot")
        out = cli("build", str(manifest))
        assert out.code == 0, out.stderr
        yield forge, manifest


def _refused(out, what: str, marker: Path) -> None:
    assert out.code == 2, (out.code, out.stderr)
    assert what in out.stderr and "holds '%', which rpm would expand as a macro" in out.stderr, out.stderr
    assert not marker.exists()


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("command", ["install", "run"])
def test_installroot_option(built, tmp_path, kind, command):
    _forge, manifest = built
    root, marker = _hostile(tmp_path, kind)
    out = cli(command, *(["-m"] if command == "install" else []), str(manifest), "--installroot", str(root), "-y")
    _refused(out, "--installroot", marker)
    assert not root.exists()


@pytest.mark.parametrize("kind", PAYLOADS)
def test_install_path_in_the_manifest(built, tmp_path, kind):
    _forge, manifest = built
    root, marker = _hostile(tmp_path, kind)
    hostile = manifest.with_name("hostile.yaml")
    clean = json.dumps(str(manifest.parent / "installroot"))
    hostile.write_text(manifest.read_text().replace(clean, json.dumps(str(root))))
    try:
        out = cli("install", "-m", str(hostile), "-y")
        _refused(out, "install.path", marker)
        assert "hostile.yaml:16:9: " in out.stderr  # the manifest's own place of the path
        relative = manifest.with_name("relative.yaml")
        relative.write_text(manifest.read_text().replace(clean, json.dumps("sub/" + PAYLOADS[kind].format(marker=marker))))
        _refused(cli("install", "-m", str(relative), "-y"), "install.path", marker)
    finally:
        for name in ("hostile.yaml", "relative.yaml"):
            manifest.with_name(name).unlink(missing_ok=True)


@pytest.mark.parametrize("kind", PAYLOADS)
@pytest.mark.parametrize("command", ["lock", "plan", "build", "run", "install"])
def test_workdir_option(built, tmp_path, kind, command):
    """Every path rpm and rpmbuild see (topdir, dbpath, sources, spec files) is under the work directory."""
    _forge, manifest = built
    workdir, marker = _hostile(tmp_path, kind)
    out = cli(command, *(["-m"] if command == "install" else []), str(manifest), "--workdir", str(workdir), *(["-y"] if command in ("run", "install") else []))
    _refused(out, "--workdir", marker)
    assert not workdir.exists()


@pytest.mark.parametrize("kind", PAYLOADS)
def test_manifest_directory(built, tmp_path, kind):
    """The default work directory is beside the manifest: a manifest in a hostile directory is refused."""
    forge, _manifest = built
    directory, marker = _hostile(tmp_path, kind)
    manifest = forge.write_manifest(directory / "s.yaml", tmp_path / "root")
    out = cli("build", str(manifest))
    _refused(out, "work directory", marker)
    assert sorted(p.name for p in directory.iterdir()) == ["s.yaml"]
