"""Where a root keeps its rpm database: the root's own, else the base's path."""

from __future__ import annotations

import os
import subprocess

import pytest

from streambuild import rootdb
from streambuild.base import parse_base


@pytest.mark.parametrize(
    "base, path",
    [
        ("fedora-44-x86_64", "/usr/lib/sysimage/rpm"),
        ("fedora-36-x86_64", "/usr/lib/sysimage/rpm"),
        ("fedora-35-x86_64", "/var/lib/rpm"),
        ("fedora-rawhide-aarch64", "/usr/lib/sysimage/rpm"),
        ("centos-stream-10-x86_64", "/usr/lib/sysimage/rpm"),
        ("centos-stream-9-x86_64", "/var/lib/rpm"),
        ("epel-9-x86_64", "/var/lib/rpm"),
        ("rhel-10-x86_64", "/usr/lib/sysimage/rpm"),
    ],
)
def test_the_bases_own_path(base: str, path: str) -> None:
    assert parse_base(base).rpmdb == path


def test_an_existing_database_or_the_roots_macros_win(tmp_path) -> None:
    root = str(tmp_path)
    assert rootdb.existing_dbpath(root) is None  # no rpm at all
    assert rootdb.dbpath_for(root, "/usr/lib/sysimage/rpm") == "/usr/lib/sysimage/rpm"
    macros = tmp_path / "usr" / "lib" / "rpm"
    macros.mkdir(parents=True)
    (macros / "macros").write_text("%_var /var\n%_dbpath\t\t%{_var}/lib/rpm\n")
    assert rootdb.existing_dbpath(root) == "/var/lib/rpm"
    assert rootdb.dbpath_for(root, "/usr/lib/sysimage/rpm") == "/var/lib/rpm"
    (macros / "macros.d").mkdir()
    (macros / "macros.d" / "macros.rpmdb").write_text("%_dbpath %{_usr}/lib/sysimage/rpm\n")
    assert rootdb.existing_dbpath(root) == "/usr/lib/sysimage/rpm"  # later files win, as in rpm
    (macros / "macros.d" / "macros.rpmdb").write_text("%_dbpath %{_weird}/rpm\n")
    assert rootdb.existing_dbpath(root) is None  # a macro this cannot expand: not guessed
    # an existing database directory wins over the macros; a link to one does not count
    (tmp_path / "usr" / "lib" / "sysimage" / "rpm").mkdir(parents=True)
    (tmp_path / "var" / "lib").mkdir(parents=True)
    (tmp_path / "var" / "lib" / "rpm").symlink_to("../../usr/lib/sysimage/rpm")
    assert rootdb.existing_dbpath(root) == "/usr/lib/sysimage/rpm"
    (tmp_path / "var" / "lib" / "rpm").unlink()
    (tmp_path / "var" / "lib" / "rpm").mkdir()
    (tmp_path / "usr" / "lib" / "sysimage" / "rpm").rmdir()
    assert rootdb.dbpath_for(root, "/usr/lib/sysimage/rpm") == "/var/lib/rpm"


@pytest.mark.parametrize("bad", ["relative/rpm", "/with space", "/%{_var}/lib/rpm", ""])
def test_a_database_path_must_be_plain_and_absolute(tmp_path, bad: str) -> None:
    with pytest.raises(ValueError):
        rootdb.dbpath_for(str(tmp_path), bad)
    with pytest.raises(ValueError):
        with rootdb.macros_environment(bad):
            pass


def test_the_environment_points_the_real_rpm_at_the_database(tmp_path) -> None:
    """rpm itself (a separate process, the user's own ~/.rpmmacros ignored) sees the path."""
    home = tmp_path / "home"
    home.mkdir()
    (home / ".rpmmacros").write_text("%_dbpath /somewhere/else\n")
    with rootdb.macros_environment("/usr/lib/sysimage/rpm", {**os.environ, "HOME": str(home)}) as env:
        made = env["HOME"]
        out = subprocess.run(["rpm", "--eval", "%{_dbpath}"], env=env, capture_output=True, text=True, check=True)
        assert out.stdout.strip() == "/usr/lib/sysimage/rpm"
    assert not os.path.exists(made)
