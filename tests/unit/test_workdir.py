from __future__ import annotations

from pathlib import Path

import pytest

from streambuild.errors import EnvironmentProblem
from streambuild.workdir import WorkDir, atomic_write


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
