"""The plan kept in the work directory: read back only for the same inputs, the same set and a sound file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict

import pytest

from streambuild import plancache
from streambuild.analyse import Analysis, AnalysisCache, BinaryPackage, DynamicRequires, SpecJob
from streambuild.plan import Plan, make_plan


def _analysis(name: str, requires: tuple = (), provides: tuple = (), generated: tuple = ()) -> Analysis:
    dynamic = DynamicRequires(tuple(generated), True) if generated else None
    return Analysis(name, "1", "1", tuple(requires), (BinaryPackage(name, (f"{name} = 1-1",) + tuple(provides)),),
                    dynamic=dynamic)


ANALYSES = {
    "liba": _analysis("liba", provides=("pkgconfig(a) = 1",)),
    "libb": _analysis("libb", requires=("pkgconfig(a)", "make"), provides=("libb-devel",)),
    "app": _analysis("app", requires=("libb-devel", "liba >= 1"), generated=("pkgconfig(a)",)),
    "cycle1": _analysis("cycle1", requires=("cycle2",)),
    "cycle2": _analysis("cycle2", requires=("cycle1",)),
}
COMMITS = {name: f"{i:040x}" for i, name in enumerate(ANALYSES, start=1)}
BUILDONLY = {"liba": False, "libb": True, "app": False, "cycle1": False, "cycle2": False}


def _plan() -> Plan:
    return make_plan("s", "fedora-44-x86_64", ANALYSES, COMMITS, BUILDONLY, lambda cap: cap in ("cycle1", "cycle2"),
                     {"app": 30.0}, {"app": "history"}, notes=["a note"])


def _load(directory: Path, key: str = "k", **changes: Any) -> Any:
    args: Dict[str, Any] = {"stream": "s", "base": "fedora-44-x86_64", "analyses": ANALYSES, "commits": COMMITS,
                            "buildonly": BUILDONLY}
    args.update(changes)
    return plancache.load(str(directory), key, args["stream"], args["base"], args["analyses"], args["commits"],
                          args["buildonly"])


def _rewrite(directory: Path, change: Any) -> None:
    path = directory / plancache.FILE
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_a_kept_plan_reads_back_as_the_plan_made(tmp_path: Path) -> None:
    plan = _plan()
    assert plan.broken and plan.durations and any(link.generated for e in plan.edges for link in e.links)
    plancache.store(str(tmp_path), "k", plan)
    again = _load(tmp_path)
    assert again is not None
    assert again == plan
    assert again.to_json() == plan.to_json() and again.describe() == plan.describe() and again.to_dot() == plan.to_dot()
    assert [e.links for e in again.edges] == [e.links for e in plan.edges]
    assert [e.links for e in again.broken] == [e.links for e in plan.broken]
    assert [c.provides for c in again.components] == [c.provides for c in plan.components]
    assert again.closure("app") == plan.closure("app") and again.duration("app") == (30.0, "history")


def test_commits_analyses_and_buildonly_are_the_callers(tmp_path: Path) -> None:
    plancache.store(str(tmp_path), "k", _plan())
    commits = dict(COMMITS, app="f" * 40)
    analyses = dict(ANALYSES, app=_analysis("app", requires=("libb-devel",)))
    again = _load(tmp_path, commits=commits, analyses=analyses, buildonly=dict(BUILDONLY, app=True))
    assert again is not None
    app = again.component("app")
    assert app.commit == "f" * 40 and app.analysis is analyses["app"] and app.buildonly


@pytest.mark.parametrize("changes", [
    {"key": "other"},
    {"stream": "t"},
    {"base": "fedora-43-x86_64"},
    {"analyses": {k: v for k, v in ANALYSES.items() if k != "app"}},
    {"analyses": dict(ANALYSES, extra=_analysis("extra"))},
    {"commits": {k: v for k, v in COMMITS.items() if k != "app"}},
])
def test_another_key_or_another_set_is_a_miss(tmp_path: Path, changes: Dict[str, Any]) -> None:
    plancache.store(str(tmp_path), "k", _plan())
    assert _load(tmp_path, **changes) is None


def _swap_first_two(data: Dict[str, Any]) -> None:
    data["components"][:2] = data["components"][1::-1]


@pytest.mark.parametrize("damage", [
    lambda d: d.update(version=0),
    lambda d: d["components"].append(d["components"][0]),  # one component twice
    lambda d: d["components"][0].__setitem__(0, "stranger"),
    lambda d: d["components"][-1].__setitem__(1, "\0stranger"),  # after a component outside the set
    lambda d: d["components"].reverse(),  # not a build order
    lambda d: d["components"][0].__setitem__(2, ["a list"]),
    lambda d: d["edges"][0].__setitem__(1, "stranger"),
    lambda d: d["edges"][0].__setitem__(4, [10 ** 6]),  # a link that is not in the table
    lambda d: d["edges"][0].__setitem__(2, "no leading NUL"),
    lambda d: d["batches"].pop(),
    lambda d: d.update(critical_path="\0stranger"),
    lambda d: d.update(links=None),
    lambda d: d.pop("notes"),
    lambda d: d.update(durations=[["app", "not seconds", "history"]]),
])
def test_a_damaged_or_forged_file_is_a_miss(tmp_path: Path, damage: Any) -> None:
    plancache.store(str(tmp_path), "k", _plan())
    assert _load(tmp_path) is not None
    _rewrite(tmp_path, damage)
    assert _load(tmp_path) is None


def test_a_file_cut_short_or_missing_is_a_miss(tmp_path: Path) -> None:
    assert _load(tmp_path) is None
    plancache.store(str(tmp_path), "k", _plan())
    path = tmp_path / plancache.FILE
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    assert _load(tmp_path) is None


def test_a_plan_the_file_cannot_hold_is_not_kept(tmp_path: Path) -> None:
    plan = make_plan("s", "fedora-44-x86_64", ANALYSES, COMMITS, BUILDONLY, lambda cap: cap in ("cycle1", "cycle2"),
                     notes=["a NUL \0 in a note"])
    plancache.store(str(tmp_path), "k", plan)
    assert list(tmp_path.iterdir()) == []


def test_a_file_system_that_refuses_loses_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    plancache.store(str(blocker / "below"), "k", _plan())  # no exception: the next plan is made again
    (tmp_path / plancache.FILE).mkdir()  # the move into place fails after the file was written aside
    plancache.store(str(tmp_path), "k", _plan())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file", plancache.FILE]  # nothing written aside left
    assert _load(tmp_path) is None


KEY_ARGS: Dict[str, Any] = {
    "stream": "s", "base": "fedora-44-x86_64", "components": [("a", "1" * 40, False), ("b", "2" * 40, True)],
    "analyses": "digest-of-analyses", "base_index": None, "durations": {"a": 1.0}, "duration_sources": {"a": "size"},
    "built": {}, "python_version": "3.14", "notes": (),
}


@pytest.mark.parametrize("name, value", [
    ("stream", "t"),
    ("base", "fedora-43-x86_64"),
    ("components", [("a", "3" * 40, False), ("b", "2" * 40, True)]),
    ("components", [("a", "1" * 40, True), ("b", "2" * 40, True)]),
    ("components", [("b", "2" * 40, True), ("a", "1" * 40, False)]),  # manifest order breaks ties
    ("analyses", "another digest"),
    ("base_index", "a base"),
    ("durations", {"a": 2.0}),
    ("duration_sources", {"a": "history"}),
    ("built", {"a": {"a": ["a = 1-1"]}}),
    ("python_version", "3.13"),
    ("notes", ("a note",)),
])
def test_every_input_of_a_plan_is_in_its_key(name: str, value: Any) -> None:
    assert plancache.plan_key(**KEY_ARGS) == plancache.plan_key(**dict(KEY_ARGS))
    assert plancache.plan_key(**dict(KEY_ARGS, **{name: value})) != plancache.plan_key(**KEY_ARGS)


def test_the_planners_code_is_in_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    before = plancache.plan_key(**KEY_ARGS)
    monkeypatch.setattr(plancache, "_PLANNER", plancache._PLANNER[:-1])  # as if another planner's code
    assert plancache.plan_key(**KEY_ARGS) != before


def _job(name: str) -> SpecJob:
    return SpecJob(name, f"/nowhere/{name}.spec", (), f"digest-of-{name}")


def test_the_analyses_digest_is_of_the_lines_as_stored(tmp_path: Path) -> None:
    cache = AnalysisCache(str(tmp_path))
    assert cache.fingerprint([_job("liba")]) is None
    cache.put_many([(_job("liba"), ANALYSES["liba"]), (_job("libb"), ANALYSES["libb"])])
    first = cache.fingerprint([_job("liba"), _job("libb")])
    assert first is not None and AnalysisCache(str(tmp_path)).fingerprint([_job("liba"), _job("libb")]) == first
    assert cache.fingerprint([_job("liba"), _job("libb"), _job("app")]) is None
    cache.put(_job("libb"), ANALYSES["app"])  # a later line for the same spec: another digest
    assert cache.fingerprint([_job("liba"), _job("libb")]) not in (None, first)
