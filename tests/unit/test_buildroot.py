"""A build root's dependency tree, made by the real rpm."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from streambuild import buildroot
from streambuild.sandbox import SYSTEM_DIRS

pytestmark = pytest.mark.skipif(subprocess.run(["which", "rpmbuild"], capture_output=True).returncode != 0,
                                reason="needs rpmbuild")


def _rpm(tmp_path: Path) -> Path:
    spec = tmp_path / "sbz.spec"
    spec.write_text("Name: sbz\nVersion: 2.0\nRelease: 1\nSummary: s\nLicense: MIT\nBuildArch: noarch\n"
                    "%description\nd\n%install\nmkdir -p %{buildroot}/usr/include/sbz %{buildroot}/lib/sbz\n"
                    "echo '#define SBZ 2' > %{buildroot}/usr/include/sbz/sbz.h\necho x > %{buildroot}/lib/sbz/data\n"
                    "%post\ntouch /tmp/stream-build-scriptlet-ran\n"
                    "%files\n/usr/include/sbz\n/lib/sbz\n")
    subprocess.run(["rpmbuild", "--define", f"_topdir {tmp_path / 'top'}", "-bb", str(spec)], check=True,
                   capture_output=True)
    return next((tmp_path / "top" / "RPMS").rglob("*.rpm"))


def test_the_tree_holds_the_files_at_their_paths_and_its_own_database(tmp_path: Path) -> None:
    rpm = _rpm(tmp_path)
    tree = tmp_path / "tree"
    with open(tmp_path / "log", "w+") as log:
        assert buildroot.make_tree(str(tree), [str(rpm)], log) == 0, (tmp_path / "log").read_text()
    assert (tree / "usr/include/sbz/sbz.h").read_text() == "#define SBZ 2\n"
    # the host's top-level links are the tree's too: /lib/... landed where the host's /lib points
    for name in SYSTEM_DIRS:
        if os.path.islink("/" + name):
            assert os.readlink(tree / name) == os.readlink("/" + name)
    lib = Path(os.path.realpath("/lib")).relative_to("/") if os.path.islink("/lib") else Path("lib")
    assert (tree / lib / "sbz" / "data").read_text() == "x\n"
    query = subprocess.run(["rpm", "--root", str(tree), "--dbpath", buildroot.DBPATH, "-qa"], capture_output=True,
                           text=True)
    assert query.stdout.split() == ["sbz-2.0-1.noarch"]
    assert not Path("/tmp/stream-build-scriptlet-ran").exists()  # scriptlets never run
    assert sorted(p.name for p in tree.iterdir() if not p.is_symlink()) == [".stream-build-rpmdb", "usr"]


def test_an_empty_tree_and_a_bad_rpm(tmp_path: Path) -> None:
    with open(tmp_path / "log", "w+") as log:
        assert buildroot.make_tree(str(tmp_path / "empty"), [], log) == 0
        assert [p.name for p in (tmp_path / "empty").iterdir() if not p.is_symlink()] in ([], ["usr"])
        bogus = tmp_path / "bogus.rpm"
        bogus.write_bytes(b"not an rpm")
        assert buildroot.make_tree(str(tmp_path / "bad"), [str(bogus)], log) != 0
    assert "bogus.rpm" in (tmp_path / "log").read_text()
