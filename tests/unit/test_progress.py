from __future__ import annotations

import io
import json

from streambuild.progress import Progress


def test_terminal_lines_with_log_tail() -> None:
    out = io.StringIO()
    progress = Progress("tty", out)
    progress.streambuild_event({"event": "component", "component": "a", "state": "waiting"})
    progress.streambuild_event({"event": "component", "component": "a", "state": "building"})
    progress.streambuild_event({"event": "component", "component": "a", "state": "failed", "duration": 2.0,
                                "message": "rpmbuild exited with 1", "log_tail": "error: boom\n", "log": "/w/a.log"})
    lines = out.getvalue().splitlines()
    assert len(lines) == 4
    assert lines[0].endswith("a building")
    assert "a failed (2.0 s): rpmbuild exited with 1" in lines[1]
    assert lines[2] == "    error: boom" and lines[3] == "    full log: /w/a.log"


def test_json_lines_and_quiet() -> None:
    out = io.StringIO()
    Progress("json", out).streambuild_event({"event": "published", "packages": ["x.rpm"]})
    assert json.loads(out.getvalue()) == {"event": "published", "packages": ["x.rpm"]}
    quiet = io.StringIO()
    Progress("quiet", quiet).streambuild_event({"event": "component", "component": "a", "state": "done"})
    assert quiet.getvalue() == ""
