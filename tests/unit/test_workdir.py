from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from streambuild.errors import EnvironmentProblem, UnsafeValueError
from streambuild.workdir import WorkDir, atomic_write, disk_full, mount_point


def test_second_holder_is_refused_and_release_lets_the_next_in(tmp_path: Path) -> None:
    first = WorkDir(str(tmp_path / "w")).acquire()
    with pytest.raises(EnvironmentProblem, match="in use by another stream-build run"):
        WorkDir(str(tmp_path / "w")).acquire()
    first.release()
    with WorkDir(str(tmp_path / "w")):
        pass


def test_acquire_clears_temporary_leftovers(tmp_path: Path) -> None:
    work = WorkDir(str(tmp_path / "w"))
    leftover = Path(work.tmp("build-"))
    with work:
        assert not leftover.exists()


def test_atomic_write_replaces_whole(tmp_path: Path) -> None:
    path = tmp_path / "f"
    atomic_write(str(path), b"one")
    atomic_write(str(path), b"two")
    assert path.read_bytes() == b"two" and [p.name for p in tmp_path.iterdir()] == ["f"]


def test_opening_removes_what_crashed_runs_left_half_written(tmp_path: Path) -> None:
    work = WorkDir(str(tmp_path / "w"))
    root = Path(work.root)
    data = b"source bytes"
    digest = hashlib.sha512(data).hexdigest()
    keep = {
        root / "lookaside" / "sha512" / digest / "f.tar",  # a verified download
        root / "lookaside" / "sha512" / digest / "f.part2",  # a source really named so, with its hash
        root / "results" / "a" / "k" / "a-1-1.noarch.rpm",
        root / "git" / "a-0123.git" / "HEAD",
        root / "repos" / "stream" / "repodata" / "repomd.xml",
        root / "journal.jsonl",
    }
    stale = {
        root / "lookaside" / "sha512" / digest / ".f.tar.part4242",  # a download cut by kill -9
        root / "lookaside" / "sha512" / ("0" * 128) / "g.tar.part4242",  # the old naming, not what its hash says
        root / "results" / "a" / "k" / ".tmp-x1y2",  # an atomic write cut short
        root / "analysis" / "ab" / ".tmp-abcd",
        root / ".tmp-zz",
        root / "git" / "b-4567.git.tmp4242" / "HEAD",  # a mirror being created
        root / "repos" / "stream.new" / "a.rpm",  # a repository being made
        root / "repos" / "stream.old" / "a.rpm",
        root / "tmp" / "build-a-x" / "f",
    }
    for path in keep | stale:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    with work:
        pass
    assert all(path.exists() for path in keep)
    left = {p for p in root.rglob("*") if p.is_file()} - keep - {root / "lock"}
    assert left == set()


def test_a_full_disk_is_an_error_naming_the_file_system(tmp_path: Path) -> None:
    error = disk_full(str(tmp_path / "w" / "journal.jsonl"), "writing the journal")
    assert isinstance(error, EnvironmentProblem) and error.exit_code == 4
    assert str(error).startswith(f"no space left on the file system at {mount_point(str(tmp_path))}")
    assert "writing the journal failed" in str(error) and "KiB free" in str(error)


@pytest.mark.parametrize("path", ["/tmp/w-%(touch /tmp/pwned)", '/tmp/%{lua: os.execute("id")}'])
def test_a_work_directory_rpm_would_expand_is_refused(path: str) -> None:
    with pytest.raises(UnsafeValueError, match="work directory .* holds '%'"):
        WorkDir(path)
