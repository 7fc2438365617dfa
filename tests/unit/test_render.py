"""What every front-end prints: a build's end, the last run's status, warnings and errors."""

from __future__ import annotations

import json

import pytest

from streambuild import journal, render
from streambuild.build import BuildReport, ComponentResult
from streambuild.errors import InputError, PolicyDenied


def test_summary_lines() -> None:
    report = BuildReport({
        "a": ComponentResult("a", "done"),
        "b": ComponentResult("b", "cached"),
        "c": ComponentResult("c", "failed", log="/w/c.log"),
        "d": ComponentResult("d", "skipped", message="needs c"),
    })
    lines = render.summary_lines(report)
    assert lines[1].split() == ["b", "unchanged"]
    assert lines[2].split() == ["c", "failed", "log:", "/w/c.log"]
    assert lines[3].split() == ["d", "skipped", "needs", "c"]
    assert lines[-1] == "1 built, 1 unchanged (not rebuilt), 1 failed, 1 not built"


def test_summary_lines_name_the_backend_and_what_was_assumed_from_the_host() -> None:
    from streambuild.buildreqs import Requirement, Resolution

    resolution = Resolution("Debian", (Requirement("gcc", "assumed"), Requirement("sbz-devel", "stream", "sbz-devel-2")))
    report = BuildReport({"a": ComponentResult("a", "done", resolution=resolution),
                          "b": ComponentResult("b", "failed", log="/w/b.log", message="rpmbuild exited with 1")},
                         backend="local", backend_reason="mock is not installed")
    lines = render.summary_lines(report)
    assert lines[0] == "backend: local (mock is not installed)"
    assert lines[1].split() == ["a", "done"]
    assert lines[2].split() == ["assumed", "from", "the", "host:", "gcc"]
    assert lines[3].split()[-4:] == ["(rpmbuild", "exited", "with", "1)"]
    data = render.summary_json(report)
    assert data["backend"] == "local"
    assert data["components"][0]["buildrequires"]["buildrequires"][0] == {"requirement": "gcc", "source": "assumed"}


def test_the_end_of_a_build_is_the_summary_and_the_repository() -> None:
    report = BuildReport({"a": ComponentResult("a", "cached")}, backend="local", backend_reason="--backend local")
    lines = render.build_end(report, "/w/repos/stream", False)
    assert lines[1].split() == ["a", "unchanged"] and lines[-1] == "stream repository: /w/repos/stream"
    (line,) = render.build_end(report, "/w/repos/stream", True, {"count": 2, "bound": 3, "depth": 2})
    data = json.loads(line)
    assert data["event"] == "summary" and data["components"][0]["state"] == "cached"
    assert data["regenerations"] == {"count": 2, "bound": 3, "depth": 2}
    submitted = BuildReport({"a": ComponentResult("a", "submitted")})
    assert render.build_end(submitted, None, False)[-1] == "0 built, 0 unchanged (not rebuilt), 0 failed, 0 not built, 1 submitted"
    koji = render.build_end(report, None, False, {"count": 2, "bound": 3, "depth": 2})
    assert koji[-1] == "  repo regenerations of the stream tag: 2 (at most 3: plan depth 2 + 1)"


def test_status_of_the_last_run(tmp_path) -> None:
    path = tmp_path / "journal.jsonl"
    with pytest.raises(InputError, match="no run recorded in .*journal.jsonl"):
        render.status(str(path), False)
    j = journal.Journal(str(path))
    j.start_run(command="build")
    j.write({"event": "component", "component": "a", "state": "cached"})
    j.write({"event": "audit", "component": "a", "stream": [], "outside": [{"requirement": "gcc", "by": "host"}],
             "findings": ["a was built against the base's b"]})
    assert render.status(str(path), False) == [
        f"run {j.run_id}: interrupted (continue with --resume)", "  a                              unchanged",
        "series audit: 0 BuildRequires met by the stream, 1 by the base or the host",
        "  warning: a was built against the base's b"]
    j.write({"event": "run-end", "outcome": "ok"})
    data = json.loads(render.status(str(path), True)[0])
    assert data["state"] == "finished: ok" and data["components"]["a"]["state"] == "cached"
    assert data["findings"] == ["a was built against the base's b"]


def test_warnings_and_errors_read_the_same_everywhere() -> None:
    assert render.warning_line("token in https://u:p@h/x") == "stream-build: warning: token in https://***@h/x"
    assert render.error_line("bad", "fedpkg-stream") == "fedpkg-stream: error: bad"
    assert json.loads(render.error_json(PolicyDenied("denied"), 3)) == {
        "event": "error", "error": "PolicyDenied", "message": "denied", "exit_code": 3}
