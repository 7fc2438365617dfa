"""Reading a base repository's metadata: real repositories made by createrepo_c, every compression."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import DATA, build_rpms, make_repo, needs_rpm
from streambuild.baserepo import BaseProvides, package_names
from streambuild.capabilities import SimpleDep
from streambuild.errors import SourceError

pytestmark = needs_rpm

TINYML = (DATA / "tinyml.spec.in").read_text()


@pytest.fixture(scope="module")
def tinyml_rpms(tmp_path_factory) -> list:
    return build_rpms(TINYML.format(version="2.9.1"), tmp_path_factory.mktemp("rpmbuild"))


@pytest.mark.parametrize("compression", ["zstd", "xz", "gz", "bz2"])
def test_every_compression_fedora_publishes(tinyml_rpms, tmp_path: Path, compression: str) -> None:
    repo = make_repo(tmp_path / "repo", tinyml_rpms, compression)
    assert any(p.name.endswith({"gz": ".gz", "xz": ".xz", "bz2": ".bz2", "zstd": ".zst"}[compression])
               for p in (repo / "repodata").iterdir())
    base = BaseProvides.from_repos([repo.as_uri() + "/"], str(tmp_path / "cache"))
    # the Provides rpm's own generators gave the base's package, read back from the metadata
    assert base.satisfies(SimpleDep("python3dist(tinyml)", ">=", "2.9"))
    assert not base.satisfies(SimpleDep("python3dist(tinyml)", ">=", "2.10"))
    assert base.satisfies(SimpleDep("pkgconfig(tinyml)"))
    assert base.package("python3-tinyml").evr == "2.9.1-1"
    assert base.satisfies(SimpleDep("/usr/bin/tinyml-run"))  # primary lists executables
    assert package_names([repo.as_uri() + "/"]) == {"python3-tinyml"}


def test_files_outside_primary_come_from_filelists(tinyml_rpms, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", tinyml_rpms)
    url = repo.as_uri() + "/"
    assert not BaseProvides.from_repos([url], str(tmp_path / "c1")).satisfies(SimpleDep("/usr/share/tinyml/model.bin"))
    asked = BaseProvides.from_repos([url], str(tmp_path / "c2"), files=["/usr/share/tinyml/model.bin", "/nope"])
    assert asked.satisfies(SimpleDep("/usr/share/tinyml/model.bin")) and not asked.satisfies(SimpleDep("/nope"))


def test_the_index_is_cached_by_the_repomd_digest(tinyml_rpms, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", tinyml_rpms)
    cache = tmp_path / "cache"
    BaseProvides.from_repos([repo.as_uri() + "/"], str(cache))
    for metadata in (repo / "repodata").glob("*-primary.xml*"):
        metadata.write_bytes(b"gone")  # a cached read never opens it again
    assert BaseProvides.from_repos([repo.as_uri() + "/"], str(cache)).package("python3-tinyml") is not None


def test_a_checksum_mismatch_is_named(tinyml_rpms, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", tinyml_rpms, "gz")
    primary = next((repo / "repodata").glob("*-primary.xml*"))
    other = make_repo(tmp_path / "other", tinyml_rpms[:0], "gz")
    shutil.copy(next((other / "repodata").glob("*-primary.xml*")), primary)  # valid metadata, wrong checksum
    with pytest.raises(SourceError, match=r"primary.xml.gz does not match repomd.xml: its sha256 is"):
        BaseProvides.from_repos([repo.as_uri() + "/"])


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_metadata_is_a_clear_error(tinyml_rpms, tmp_path: Path, damage: str) -> None:
    repo = make_repo(tmp_path / "repo", tinyml_rpms)
    repomd = repo / "repodata" / "repomd.xml"
    repomd.write_bytes(repomd.read_bytes()[:200] if damage == "truncate" else b"\x00\x01 not xml")
    with pytest.raises(SourceError, match="repomd.xml cannot be read"):
        BaseProvides.from_repos([repo.as_uri() + "/"])


def test_a_missing_repository_is_named(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read base repository"):
        BaseProvides.from_repos([(tmp_path / "nothing").as_uri() + "/"])
