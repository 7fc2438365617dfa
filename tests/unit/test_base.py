"""The base: its macros, rawhide's number (explicit, from the base's metadata, else Fedora's schedule)."""

from __future__ import annotations

import datetime

import pytest

from conftest import build_rpms, make_repo, needs_rpm, spec
from streambuild.base import RAWHIDE_ENV, parse_base, rawhide_version, scheduled_rawhide
from streambuild.errors import InputError, ManifestError


def test_fedora_macros() -> None:
    base = parse_base("fedora-44-x86_64")
    assert (base.distro, base.release, base.arch, base.name) == ("fedora", "44", "x86_64", "fedora-44-x86_64")
    assert base.macros() == {"dist": ".fc44", "fedora": "44", "fc44": "1"}


def test_el() -> None:
    el = parse_base("centos-stream-10-x86_64")
    assert el.macros() == {"dist": ".el10", "rhel": "10", "el10": "1"}
    assert parse_base("epel-9-x86_64").macros()["epel"] == "9"


@pytest.mark.parametrize("day, number", [
    ("2024-01-15", 40), ("2024-03-01", 41), ("2024-09-01", 42), ("2025-03-01", 43), ("2025-12-01", 44),
    ("2026-04-28", 45), ("2026-12-01", 46), ("2027-02-20", 47),
])
def test_rawhide_by_fedoras_schedule(day: str, number: int) -> None:
    """A release branches from rawhide in February and August; rawhide is the next one's number."""
    assert scheduled_rawhide(datetime.date.fromisoformat(day)) == number


def test_rawhide_is_the_explicit_number_else_the_schedules(monkeypatch) -> None:
    monkeypatch.delenv(RAWHIDE_ENV, raising=False)
    rawhide = parse_base("fedora-rawhide-aarch64")
    assert rawhide.version == scheduled_rawhide() and rawhide.dist == f".fc{scheduled_rawhide()}"
    assert rawhide.with_number(47).macros() == {"dist": ".fc47", "fedora": "47", "fc47": "1"}
    assert parse_base("fedora-44-x86_64").with_number(47).version == 44  # only rawhide moves
    monkeypatch.setenv(RAWHIDE_ENV, "48")
    assert rawhide.version == 48 and rawhide.with_number(47).version == 48  # the explicit number wins
    assert rawhide_version({RAWHIDE_ENV: " 50 "}) == 50
    with pytest.raises(InputError, match="STREAM_BUILD_RAWHIDE_VERSION='rawhide' is not a Fedora release number"):
        rawhide_version({RAWHIDE_ENV: "rawhide"})


@needs_rpm
def test_rawhide_is_the_newest_release_its_metadata_names(tmp_path, monkeypatch) -> None:
    from streambuild.stream import Stream

    monkeypatch.delenv(RAWHIDE_ENV, raising=False)
    rpms = []
    for name, dist in (("old-tool", ".fc44"), ("new-tool", ".fc46"), ("fedora-release", ".fc46")):
        text = spec(name).replace("Release: 1%{?dist}", f"Release: 1{dist}")
        rpms += build_rpms(text, tmp_path / f"build-{name}")
    repo = make_repo(tmp_path / "rawhide", rpms, compression="gz")
    manifest = tmp_path / "s.yaml"
    manifest.write_text("base: fedora-rawhide-x86_64\nbuild:\n- type: git\n  url: file:///nowhere/\n  packages: [a:main]\n"
                        f"base_repos:\n- {repo.as_uri()}/\n")
    stream = Stream(str(manifest), str(tmp_path / "work"))
    stream.resolve_base()
    assert stream.manifest.base.version == 46 and stream.manifest.base.dist == ".fc46"
    assert dict(stream.macros_for(stream.manifest.components[0]))["fedora"] == "46"


@pytest.mark.parametrize("value", ["fedora-44", "debian-12-amd64", "fedora-44-sparc", "fedora-xx-x86_64", 44])
def test_rejected(value: object) -> None:
    with pytest.raises(ManifestError):
        parse_base(value)
