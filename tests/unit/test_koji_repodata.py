"""The stream repository's index on the hub: valid empty metadata, checked atomic swaps (real createrepo_c/mergerepo_c)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import needs_rpm, spec
from streambuild.errors import InputError
from streambuild.koji import repodata


def merge(repo: Path, out: Path) -> subprocess.CompletedProcess:
    """What kojid's createrepo task runs for a tag whose external repo is ``repo`` (merge mode bare)."""
    local = out.parent / "local"
    if not local.exists():
        local.mkdir(parents=True)
        subprocess.run(["createrepo_c", "-q", str(local)], check=True)
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    return subprocess.run(["mergerepo_c", "--pkgorigins", "--all", "-a", "x86_64", "-o", str(out), "--arch-expand",
                           "-r", f"file://{local}/", "-r", f"file://{repo}/"], capture_output=True, text=True)


def build_rpm(tmp_path: Path, name: str) -> Path:
    top = tmp_path / "rpmbuild"
    (tmp_path / f"{name}.spec").write_text(spec(name))
    subprocess.run(["rpmbuild", "-bb", "--define", f"_topdir {top}", str(tmp_path / f"{name}.spec")], check=True,
                   capture_output=True)
    return next((top / "RPMS" / "noarch").glob(f"{name}-*.rpm"))


@needs_rpm
def test_mergerepo_refuses_a_missing_repo_and_accepts_the_empty_one(tmp_path):
    repo = tmp_path / "repo"
    repo.mkdir()
    refused = merge(repo, tmp_path / "out")
    assert refused.returncode != 0  # what made the first repo of every stream tag fail
    assert repodata.write_empty(str(repo))
    assert not repodata.write_empty(str(repo))  # already there: left alone
    assert merge(repo, tmp_path / "out").returncode == 0
    assert sorted(os.listdir(repo)) == ["repodata"]  # no scratch directory left behind
    assert repodata.timestamp(str(repo / "repodata" / "repomd.xml")) > 0


@needs_rpm
def test_install_swaps_a_checked_index_and_keeps_the_previous_generation(tmp_path):
    hub_repo = tmp_path / "hub" / "repo"
    repodata.write_empty(str(hub_repo))
    first = {p.name for p in (hub_repo / "repodata").iterdir()}
    local = tmp_path / "builder" / "repo"
    generations = []
    for index, name in enumerate(("tiny-a", "tiny-b", "tiny-c"), start=1):
        local.mkdir(parents=True, exist_ok=True)
        shutil.copy(build_rpm(tmp_path, name), local)
        subprocess.run(["createrepo_c", "-q", "--no-database", "--general-compress-type=gz", str(local)], check=True)
        for rpm in local.glob("*.rpm"):  # as the builder uploads: RPMs, data files, then the staged index
            shutil.copy(rpm, hub_repo)
        for data in (local / "repodata").iterdir():
            if data.name != "repomd.xml":
                shutil.copy(data, hub_repo / "repodata")
        (hub_repo / "staged").mkdir(exist_ok=True)
        shutil.copy(local / "repodata" / "repomd.xml", hub_repo / "staged" / f"repomd-{index}.xml")
        assert repodata.install(str(hub_repo), f"repomd-{index}.xml") > 0
        generations.append({href.split("/")[-1] for href, *_ in repodata.references(str(hub_repo / "repodata" / "repomd.xml"))})
        merged = merge(hub_repo, tmp_path / "out")
        assert merged.returncode == 0, merged.stderr
    present = {p.name for p in (hub_repo / "repodata").iterdir()} - {"repomd.xml"}
    assert present == generations[-1] | generations[-2]  # the current and the previous index's files
    assert not present & first  # the empty generation is gone
    assert not (hub_repo / "staged" / "repomd-3.xml").exists()  # renamed into place


@pytest.mark.parametrize("name, setup, words", [
    ("../repomd.xml", None, "is not repomd-<number>.xml"),
    ("repomd-1.xml", None, "nothing staged"),
    ("repomd-1.xml", "missing", "which was not uploaded"),
    ("repomd-1.xml", "corrupt", "checksum differs"),
    ("repomd-1.xml", "outside", "not a file of repodata/"),
])
def test_install_refuses_an_index_it_cannot_vouch_for(tmp_path, name, setup, words):
    repo = tmp_path / "repo"
    repodata.write_empty(str(repo))
    before = (repo / "repodata" / "repomd.xml").read_text()
    scratch = tmp_path / "scratch"
    repodata.write_empty(str(scratch))
    (repo / "staged").mkdir()
    index = (scratch / "repodata" / "repomd.xml").read_text()
    data = [p for p in (scratch / "repodata").iterdir() if p.name != "repomd.xml"]
    if setup is not None:
        for path in data:
            shutil.copy(path, repo / "repodata")
        if setup == "missing":
            (repo / "repodata" / data[0].name).unlink()
        if setup == "corrupt":
            target = repo / "repodata" / data[0].name
            raw = bytearray(target.read_bytes())
            raw[-1] ^= 0xFF  # the same size, other content
            target.write_bytes(bytes(raw))
        if setup == "outside":
            index = index.replace(f'href="repodata/{data[0].name}"', 'href="../../etc/passwd"')
        (repo / "staged" / "repomd-1.xml").write_text(index)
    with pytest.raises(InputError, match=words.replace("<", ".").replace(">", ".").replace("/", ".")):
        repodata.install(str(repo), name)
    assert (repo / "repodata" / "repomd.xml").read_text() == before  # nothing changed
