"""Publishing with the real createrepo_c: a repository of the same RPMs is not made again."""

from __future__ import annotations

import os

import pytest

from conftest import build_rpms, needs_rpm, spec
from streambuild.publish import make_repo

pytestmark = [pytest.mark.integration, needs_rpm]


def test_a_repository_of_the_same_rpms_is_left_as_it_is_and_a_changed_one_made_anew(tmp_path):
    first = build_rpms(spec("pubone"), tmp_path / "one")
    second = build_rpms(spec("pubtwo"), tmp_path / "two")
    repo = tmp_path / "repos" / "stream"
    make_repo(str(repo), [str(p) for p in first])
    repomd = repo / "repodata" / "repomd.xml"
    made = repomd.stat().st_mtime_ns
    make_repo(str(repo), [str(p) for p in first])
    assert repomd.stat().st_mtime_ns == made  # nothing changed: not published again
    make_repo(str(repo), [str(p) for p in first + second])
    assert sorted(p.name for p in repo.glob("*.rpm")) == sorted(p.name for p in first + second)
    assert repomd.stat().st_mtime_ns != made
    os.unlink(repo / first[0].name)  # a repository whose RPM went missing is made again
    make_repo(str(repo), [str(p) for p in first + second])
    assert (repo / first[0].name).exists()
