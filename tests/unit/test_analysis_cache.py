"""The analysis cache: one file per work directory, lines appended, torn lines, old per-spec files."""

from __future__ import annotations

import json
from pathlib import Path

from streambuild.analyse import Analysis, AnalysisCache, BinaryPackage, SpecJob


def _job(name: str, digest: str = "") -> SpecJob:
    return SpecJob(name, f"/nowhere/{name}.spec", (("fedora", "44"),), digest or f"digest-of-{name}")


def _analysis(name: str, version: str = "1") -> Analysis:
    return Analysis(name, version, "1", ("make",), (BinaryPackage(name, (f"{name} = {version}-1",)),))


def test_analyses_come_back_from_one_file_across_instances(tmp_path: Path) -> None:
    cache = AnalysisCache(str(tmp_path))
    cache.put_many([(_job("a"), _analysis("a")), (_job("b"), _analysis("b"))])
    cache.put(_job("a"), _analysis("a", "2"))  # a later line wins
    assert [p.name for p in tmp_path.iterdir()] == ["analyses.jsonl"]
    again = AnalysisCache(str(tmp_path))
    assert again.get(_job("a")) == _analysis("a", "2") and again.get(_job("b")) == _analysis("b")
    assert again.get(_job("a", digest="other")) is None


def test_a_line_cut_short_is_a_miss_and_later_lines_still_count(tmp_path: Path) -> None:
    cache = AnalysisCache(str(tmp_path))
    cache.put(_job("a"), _analysis("a"))
    with open(tmp_path / "analyses.jsonl", "ab") as handle:  # a crash in the middle of an append
        handle.write(_job("b").cache_key().encode() + b'\t{"name": "b", "vers')
    torn = AnalysisCache(str(tmp_path))
    assert torn.get(_job("b")) is None and torn.get(_job("a")) == _analysis("a")
    torn.put(_job("c"), _analysis("c"))
    assert AnalysisCache(str(tmp_path)).get(_job("c")) == _analysis("c")


def test_superseded_lines_are_dropped_when_they_are_most_of_the_file(tmp_path: Path) -> None:
    cache = AnalysisCache(str(tmp_path))
    for version in range(1200):
        cache.put(_job("a"), _analysis("a", str(version)))
    lines = (tmp_path / "analyses.jsonl").read_bytes().splitlines()
    assert len(lines) < 1100
    assert AnalysisCache(str(tmp_path)).get(_job("a")) == _analysis("a", "1199")


def test_analyses_cached_one_file_each_by_earlier_versions_are_found(tmp_path: Path) -> None:
    key = _job("old").cache_key()
    (tmp_path / key[:2]).mkdir()
    (tmp_path / key[:2] / f"{key}.json").write_text(json.dumps(_analysis("old").to_json()))
    assert AnalysisCache(str(tmp_path)).get(_job("old")) == _analysis("old")
