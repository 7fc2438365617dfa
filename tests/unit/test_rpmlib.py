"""rpm's own version rules, through the wall in ``_foreign/rpmlib``."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from streambuild._foreign import rpmlib
from streambuild._foreign.rpmlib import Capability
from streambuild.errors import InputError

pytest.importorskip("rpm", reason="rpm's Python bindings (python3-rpm) are not importable")


@pytest.mark.parametrize("req, prov, expected", [
    ("tinytorch-devel >= 2.11", "tinytorch-devel = 2.10.2-1.fc44", False),
    ("tinytorch-devel >= 2.11", "tinytorch-devel = 2.11.0-1.fc44", True),
    ("tinytorch-devel >= 2.11", "tinytorch-devel", True),          # an unversioned provide meets any range
    ("tinytorch-devel", "tinytorch-devel = 0.1-1", True),
    ("python3dist(torch) < 2.10", "python3dist(torch) = 2.9.1", True),
    ("python3dist(torch) < 2.10", "python3dist(torch) = 2.10~rc1", True),  # tilde sorts before the release
    ("foo = 1:2.0", "foo = 2.0-1", False),                           # epochs count
    ("foo >= 2.0-3", "foo = 2.0-10", True),                          # releases compare numerically
    ("foo", "bar = 1", False),
])
def test_overlaps_as_rpm_decides(req: str, prov: str, expected: bool) -> None:
    assert rpmlib.overlaps(Capability.parse(req), Capability.parse(prov)) is expected


def test_evr_compare() -> None:
    assert rpmlib.evr_compare("2.10.2-1", "2.9.1-1") == 1
    assert rpmlib.evr_compare("1:1.0", "2.0") == 1
    assert rpmlib.evr_compare("1.0~rc1", "1.0") == -1
    assert rpmlib.evr_compare("1.0-1", "1.0-1") == 0


def test_read_header_of_a_real_rpm(tmp_path: Path) -> None:
    spec = tmp_path / "hello.spec"
    spec.write_text("Name: hello\nVersion: 1.2\nRelease: 3\nSummary: s\nLicense: MIT\nBuildArch: noarch\n"
                    "Provides: greeting = 5\nRequires: bash\n%description\nd\n%files\n")
    subprocess.run(["rpmbuild", "--define", f"_topdir {tmp_path}", "-bb", str(spec)], check=True, capture_output=True)
    [path] = list((tmp_path / "RPMS").rglob("*.rpm"))
    header = rpmlib.read_header(str(path))
    assert (header.name, header.version, header.release, header.arch) == ("hello", "1.2", "3", "noarch")
    assert "greeting = 5" in header.provides and "hello = 1.2-3" in header.provides
    assert "bash" in header.requires
    assert not any(r.startswith("rpmlib(") for r in header.requires)
    assert header.nevra == "hello-1.2-3.noarch"


def test_a_file_that_is_not_an_rpm_is_named(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.rpm"
    bogus.write_bytes(b"not an rpm at all")
    with pytest.raises(InputError, match="bogus.rpm is not a readable RPM"):
        rpmlib.read_header(str(bogus))


def test_a_database_answers_what_its_packages_provide_and_own(tmp_path: Path) -> None:
    spec = tmp_path / "tool.spec"
    spec.write_text("Name: tool\nVersion: 2.0\nRelease: 1\nSummary: s\nLicense: MIT\nBuildArch: noarch\n"
                    "Provides: tool-api = 7\n%description\nd\n%install\nmkdir -p %{buildroot}/usr/bin\n"
                    "echo x > %{buildroot}/usr/bin/tool\n%files\n/usr/bin/tool\n")
    subprocess.run(["rpmbuild", "--define", f"_topdir {tmp_path}", "-bb", str(spec)], check=True, capture_output=True)
    [path] = list((tmp_path / "RPMS").rglob("*.rpm"))
    assert rpmlib.read_header(str(path)).files == ("/usr/bin/tool",)
    db = tmp_path / "db"
    subprocess.run(["rpm", "--dbpath", str(db), "-i", "--justdb", "--nodeps", str(path)], check=True)
    database = rpmlib.Database(str(db))
    try:
        assert [p.nevra for p in database.providers("tool-api")] == ["tool-2.0-1.noarch"]
        assert "tool-api = 7" in database.providers("tool-api")[0].provides
        assert [p.name for p in database.owners("/usr/bin/tool")] == ["tool"]
        assert database.providers("nothing-provides-this") == [] and database.owners("/usr/bin/none") == []
    finally:
        database.close()
    assert rpmlib.expand("%{_dbpath}") != str(db)  # the path was this database's only
