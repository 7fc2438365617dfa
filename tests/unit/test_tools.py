"""The tools check made before anything runs."""

from __future__ import annotations

import pytest

from streambuild import tools
from streambuild.errors import EnvironmentProblem


def test_present_tools_pass_and_missing_ones_are_named_with_their_packages(monkeypatch, tmp_path) -> None:
    (tmp_path / "git").write_text("#!/bin/sh\n")
    (tmp_path / "git").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    tools.require(["git"], "locking")
    with pytest.raises(EnvironmentProblem) as info:
        tools.require(["git", "createrepo_c", "bwrap", "createrepo_c"], "building a stream")
    message = str(info.value)
    assert info.value.exit_code == 4
    assert message.startswith("building a stream needs createrepo_c (Debian: apt install createrepo-c; "
                              "Fedora: dnf install createrepo_c); bwrap (Debian: apt install bubblewrap;")
    assert message.count("createrepo_c (") == 1 and "are not installed" in message and "git" not in message
    assert [t.command for t in tools.missing(["no-such-tool-here"])] == ["no-such-tool-here"]
