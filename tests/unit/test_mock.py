"""The mock backend's choices (mock itself is not installable on Debian 12: see README)."""

from __future__ import annotations

import pytest

from streambuild.backends import mock
from streambuild.base import parse_base
from streambuild.errors import EnvironmentProblem


def test_the_config_is_named_by_the_base_and_must_exist(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(mock, "CONFIG_DIRS", (str(tmp_path / "etc"), str(tmp_path / "home")))
    base = parse_base("fedora-44-x86_64")
    assert mock.config_name(base) == "fedora-44-x86_64"
    with pytest.raises(EnvironmentProblem, match="mock has no config 'fedora-44-x86_64'.*--backend local"):
        mock.find_config(base)
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "fedora-44-x86_64.cfg").write_text("include('fedora-44-x86_64.cfg')\n")
    assert mock.find_config(base) == str(tmp_path / "home" / "fedora-44-x86_64.cfg")


def test_without_mock_the_backend_says_what_to_install(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(EnvironmentProblem, match=r"mock \(Debian: apt install mock; Fedora: dnf install mock\)"):
        mock.MockBackend()
