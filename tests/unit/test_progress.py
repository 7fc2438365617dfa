"""Progress and warnings: a line per step and a live status line on a terminal, quiet without one."""

from __future__ import annotations

import io
import json

from streambuild.progress import Progress


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_terminal_lines_with_log_tail() -> None:
    out = io.StringIO()
    progress = Progress("tty", out, ticker=False)
    progress.streambuild_event({"event": "component", "component": "a", "state": "waiting"})
    progress.streambuild_event({"event": "component", "component": "a", "state": "building"})
    progress.streambuild_event({"event": "component", "component": "a", "state": "failed", "duration": 2.0,
                                "message": "rpmbuild exited with 1", "log_tail": "error: boom\n", "log": "/w/a.log"})
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[0].endswith("a building")
    assert "a failed (2.0 s): rpmbuild exited with 1" in lines[1]
    assert lines[2] == "    error: boom" and lines[3] == "    full log: /w/a.log"


def test_phases_and_a_status_line_with_each_builds_elapsed_time() -> None:
    out, clock = io.StringIO(), Clock()
    progress = Progress("live", out, clock=clock, ticker=False)
    progress.streambuild_event({"event": "phase", "phase": "fetch", "components": 2})
    assert out.getvalue().startswith("[00:00] fetching the sources of 2 components\n")
    assert out.getvalue().endswith("\r\x1b[K[00:00] fetching sources 0/2 (00:00)")  # the status line, redrawn
    clock.now += 3
    progress.streambuild_event({"event": "fetched", "component": "a"})
    assert progress.status() == "[00:03] fetching sources 1/2 (00:03)"
    progress.streambuild_event({"event": "phase", "phase": "analyse", "components": 2})
    progress.streambuild_event({"event": "phase", "phase": "build", "components": 2})
    progress.streambuild_event({"event": "component", "component": "a", "state": "building"})
    progress.streambuild_event({"event": "build-log", "component": "a", "log": "/w/tmp/result-a/build.log"})
    clock.now += 42
    assert progress.status() == "[00:45] building a 00:42"
    text = out.getvalue()
    assert "analysing 2 specs" in text and "… a building" in text and "    log: /w/tmp/result-a/build.log\n" in text
    progress.streambuild_event({"event": "component", "component": "a", "state": "cached"})
    assert "= a unchanged" in out.getvalue()
    progress.close()
    assert out.getvalue().endswith("\r\x1b[K") and progress.status() == ""  # nothing left on the line
    progress.streambuild_event({"event": "phase", "phase": "install", "packages": ["a"], "installroot": "/r"})
    assert progress.status() == "" and out.getvalue().endswith("installing a into /r\n")  # its question comes next


def test_verbose_without_a_terminal_prints_the_lines_but_no_status_line() -> None:
    out = io.StringIO()
    progress = Progress("lines", out, ticker=False)
    progress.streambuild_event({"event": "phase", "phase": "fetch", "components": 1})
    progress.streambuild_event({"event": "published", "packages": ["x.rpm"], "repo": "/w/repos/stream"})
    assert "\x1b" not in out.getvalue() and "published 1 RPMs to /w/repos/stream" in out.getvalue()


def test_warnings_are_shown_in_every_mode() -> None:
    for mode in ("live", "lines", "quiet", "json"):
        out, err = io.StringIO(), io.StringIO()
        progress = Progress(mode, out, err, ticker=False)
        progress.streambuild_event({"event": "warning", "message": "a: release-series-branch: rawhide is not a series"})
        assert "stream-build: warning: a: release-series-branch: rawhide is not a series\n" in err.getvalue(), mode


def test_json_lines_and_quiet() -> None:
    out = io.StringIO()
    Progress("json", out, io.StringIO()).streambuild_event({"event": "published", "packages": ["x.rpm"]})
    assert json.loads(out.getvalue()) == {"event": "published", "packages": ["x.rpm"]}
    quiet = io.StringIO()
    Progress("quiet", quiet).streambuild_event({"event": "component", "component": "a", "state": "done"})
    assert quiet.getvalue() == ""


def test_without_a_terminal_it_is_quiet(monkeypatch) -> None:
    class NotATerminal(io.StringIO):
        def isatty(self) -> bool:
            return False

    class Terminal(NotATerminal):
        def isatty(self) -> bool:
            return True

    assert Progress.for_terminal(errors=NotATerminal()).mode == "quiet"
    assert Progress.for_terminal(verbose=True, errors=NotATerminal()).mode == "lines"
    assert Progress.for_terminal(errors=Terminal()).mode == "live"
    assert Progress.for_terminal(quiet=True, errors=Terminal()).mode == "quiet"
