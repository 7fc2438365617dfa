"""Analysis with rpm's own spec parser, the base's dist macros, and the cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import loopback_listener, needs_rpm, spec
from streambuild.analyse import AnalysisCache, Parsers, SpecJob, analyse_all, analyse_spec
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


def test_parsers_started_before_the_specs_exist_parse_them_with_the_same_answers(tmp_path):
    """A cold plan starts its parsers while it fetches: their view is the sources directory, read-only."""
    root = tmp_path / "sources"
    root.mkdir()
    parsers = Parsers([str(root)], 2)
    try:
        (root / "a").mkdir()
        first = root / "a" / "good.spec"
        first.write_text(spec("good", buildrequires=["x"]))
        (root / "b").mkdir()
        second = root / "b" / "cond.spec"
        second.write_text(CONDITIONAL)
        found = analyse_all([_job(first), _job(second)], parsers=parsers)
        assert parsers.take() is None  # both were used
        assert found == analyse_all([_job(first), _job(second)])  # as fresh parsers answer
        # a spec outside their view is parsed by parsers of its own
        outside = tmp_path / "elsewhere.spec"
        outside.write_text(spec("elsewhere"))
        spare = Parsers([str(root)], 1)
        try:
            assert analyse_all([_job(outside)], parsers=spare)["elsewhere"].name == "elsewhere"
            unused = spare.take()
            assert unused is not None  # left as it was
            unused.stop()
        finally:
            spare.close()
    finally:
        parsers.close()
    assert not parsers.covers([str(outside)]) and parsers.covers([str(first)])


# -- reviewing a stream is safe: spec macros run in the sandbox ------------------------------

HOSTILE = """Name: hostile
Version: 1
Release: 1
Summary: s
License: MIT
%global pwned %(touch {shell_target}; echo 1)
%{{lua: os.execute("touch {lua_target}")}}
%global reached %(python3 -c "import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)" && echo 1 || echo 0)
%global wrote_beside %(echo x > {beside} && echo 1 || echo 0)
Provides: probe = %{{reached}}.%{{wrote_beside}}
%description
d
%files
"""


def test_spec_code_runs_confined(tmp_path):
    specs = tmp_path / "specs"
    specs.mkdir()
    targets = {"shell_target": tmp_path / "pwned-by-shell", "lua_target": tmp_path / "pwned-by-lua",
               "beside": specs / "written-beside-the-spec"}
    path = specs / "hostile.spec"
    with loopback_listener() as (port, reached):
        path.write_text(HOSTILE.format(port=port, **targets))
        analysis = analyse_spec(_job(path))
    assert analysis.name == "hostile"  # the spec was parsed...
    for target in targets.values():  # ...and its %(...) and %{lua:} wrote nothing outside the sandbox's /tmp
        assert not target.exists(), target
    assert not reached  # no network
    assert "probe = 0.0" in analysis.provides


def test_a_spec_that_hangs_is_stopped_and_named(tmp_path):
    from streambuild.analyse import parse_specs

    path = tmp_path / "slow.spec"
    path.write_text(spec("slow").replace("Summary:", "%global x %(sleep 600)\nSummary:"))
    other = tmp_path / "fine.spec"
    other.write_text(spec("fine"))
    answers = parse_specs([_job(path), _job(other)], workers=1, timeout=3)
    assert not answers["slow"]["ok"] and "took longer than 3 s" in answers["slow"]["error"]
    assert answers["fine"]["ok"]  # a new parser took over after the hung one was killed


# -- the in-process parser gives what rpmspec gives ------------------------------------------

SNAPSHOT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "fedora-rawhide-specs.tar.xz"


@pytest.mark.skipif(not SNAPSHOT.is_file(), reason=f"the spec snapshot is not at {SNAPSHOT}")
def test_same_answers_as_rpmspec_on_real_specs(tmp_path):
    """On a fixed sample of real Rawhide specs that need none of stream-build's stand-ins, the analysis
    (rpm's Python bindings, sandboxed) gives exactly what two ``rpmspec -q`` calls give."""
    import subprocess
    import tarfile

    from streambuild import sandbox
    from streambuild.analyse import analyse_all

    with tarfile.open(SNAPSHOT) as tar:
        members = [m for m in tar.getmembers() if m.name.endswith(".spec")]
        sample = members[::len(members) // 150][:150]
        tar.extractall(tmp_path, members=sample)
    jobs = [_job(tmp_path / m.name) for m in sample]
    parsed = {}
    for job in jobs:
        try:
            parsed.update(analyse_all([job]))
        except AnalysisError:
            continue
    exact = [job for job in jobs if job.name in parsed and not parsed[job.name].approximate]
    assert len(exact) >= 10, "the sample has too few specs that need no stand-ins"
    for job in exact:
        defines = [a for name, value in job.macros for a in ("--define", f"{name} {value}")]

        def rpmspec(*query: str) -> list:
            # as the analysis does: /bin/sh is bash (Fedora's specs use bash in %(...)), the host read-only
            box = sandbox.Sandbox(readable=(str(tmp_path),), fedora_shell=True, chdir=str(tmp_path))
            proc = subprocess.run(sandbox.command(box, ["rpmspec", *defines, "-q", *query, "--", job.spec_path]),
                                  capture_output=True, text=True)
            return [line for line in proc.stdout.splitlines() if line.strip()]

        got = parsed[job.name]
        assert sorted(got.buildrequires) == sorted(r for r in rpmspec("--srpm", "--qf", "[%{REQUIRENEVRS}\\n]")
                                                   if not r.startswith("rpmlib(")), job.name
        assert list(got.package_names) == rpmspec("--builtrpms", "--qf", "%{NAME}\\n"), job.name
        assert sorted(got.provides) == sorted(rpmspec("--builtrpms", "--qf", "[%{PROVIDENEVRS}\\n]")), job.name
