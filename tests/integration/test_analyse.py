"""Analysis with rpm's own spec parser, the base's dist macros, and the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import needs_rpm, spec
from streambuild.analyse import AnalysisCache, SpecJob, analyse_all, analyse_spec
from streambuild.base import parse_base
from streambuild.errors import AnalysisError

pytestmark = [pytest.mark.integration, needs_rpm]

CONDITIONAL = """Name: cond
Version: 1
Release: 1%{?dist}
Summary: s
License: MIT
%if 0%{?fedora} >= 44
BuildRequires: new-toolchain >= 2
%else
BuildRequires: old-toolchain
%endif
BuildRequires: (python3-foo or python3-bar)
%description
d
%package -n python3-cond
Summary: p
Provides: python3dist(cond) = 1
%description -n python3-cond
p
%files -n python3-cond
%changelog
"""


def _job(path: Path, base: str = "fedora-44-x86_64", digest: str = "d") -> SpecJob:
    return SpecJob(path.stem, str(path), tuple(sorted(parse_base(base).macros().items())), digest)


def test_base_macros_decide_buildrequires_and_provides(tmp_path):
    path = tmp_path / "cond.spec"
    path.write_text(CONDITIONAL)
    new = analyse_spec(_job(path))
    assert sorted(new.buildrequires) == ["(python3-foo or python3-bar)", "new-toolchain >= 2"]
    assert new.release == "1.fc44" and new.package_names == ("python3-cond",)
    assert "python3dist(cond) = 1" in new.provides and "python3-cond = 1-1.fc44" in new.provides
    old = analyse_spec(_job(path, "fedora-42-x86_64"))
    assert "old-toolchain" in old.buildrequires and "new-toolchain >= 2" not in old.buildrequires


def test_every_unparseable_spec_is_named_and_nothing_crashes(tmp_path):
    good = tmp_path / "good.spec"
    good.write_text(spec("good"))
    bad = tmp_path / "bad.spec"
    bad.write_text("Name: bad\nVersion: 1\n%pyproject_buildrequires_but_wrong(\n")
    other = tmp_path / "other.spec"
    other.write_text("Name: other\n")
    with pytest.raises(AnalysisError) as info:
        analyse_all([_job(good), _job(bad), _job(other)])
    message = str(info.value)
    assert "component bad: rpm cannot parse bad.spec" in message
    assert "component other: rpm cannot parse other.spec" in message
    assert "good" not in message


def test_a_spec_for_another_package_is_refused(tmp_path):
    path = tmp_path / "wrong.spec"
    path.write_text(spec("right"))
    with pytest.raises(AnalysisError, match="builds source package 'right', not 'wrong'"):
        analyse_spec(_job(path))


def test_cache_skips_the_parser(tmp_path):
    path = tmp_path / "good.spec"
    path.write_text(spec("good", buildrequires=["x"]))
    cache = AnalysisCache(str(tmp_path / "cache"))
    first = analyse_all([_job(path)], cache)
    path.write_text("this is no longer a spec")  # a cache hit never parses it again
    assert analyse_all([_job(path)], cache) == first
    with pytest.raises(AnalysisError):
        analyse_all([_job(path, digest="changed")], cache)
