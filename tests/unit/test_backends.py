"""What --backend auto means, and the outcome a backend returns."""

from __future__ import annotations

from streambuild import backends


def test_auto_is_mock_where_mock_is_installed_else_local(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert backends.choose("auto", ["local", "mock"])[0] == "local"
    assert "mock is not installed" in backends.choose("auto", ["local", "mock"])[1]
    (tmp_path / "mock").write_text("#!/bin/sh\n")
    (tmp_path / "mock").chmod(0o755)
    assert backends.choose("auto", ["local", "mock"]) == (
        "mock", "mock is installed: each component is built in a mock chroot of the base")
    assert backends.choose("auto", ["local"])[0] == "local"  # mock's plugin not registered
    assert backends.choose("koji", ["local", "mock", "koji"]) == ("koji", "--backend koji")
