"""rpm's own parser on Fedora-style specs, with stream-build's stand-ins where the host lacks Fedora's macros.

These run rpm in this process (the analysis runs the same code in a sandbox: see
tests/integration/test_analyse.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("rpm", reason="rpm's Python bindings (python3-rpm) are not importable")

from streambuild.specparse import COMPAT_MACROS, Parser, SpecRequest, macro_file_entries  # noqa: E402

F44 = (("dist", ".fc44"), ("fedora", "44"), ("fc44", "1"), ("python3_version", "3.14"))


@pytest.fixture(scope="module")
def parser() -> Parser:
    return Parser()


def parse(parser: Parser, tmp_path: Path, text: str, name: str = "pkg") -> dict:
    path = tmp_path / f"{name}.spec"
    path.write_text(text)
    return parser.parse(SpecRequest(str(path), F44))


HEADER = "Name: {name}\nVersion: 1.2\nRelease: %autorelease\nSummary: s\nLicense: MIT\n"


def test_stand_ins_are_only_for_what_the_host_lacks(parser: Parser) -> None:
    entries = macro_file_entries(COMPAT_MACROS)
    assert {"autorelease", "py3_dist", "pyproject_buildrequires", "gometa", "forgemeta"} <= set(entries)
    for name in parser.compat:
        assert not parser.rpm.is_defined(name) or name in entries  # the host had none of these
    # a macro the host defines is never replaced (rpm 4.18 defines %make_build)
    assert parser.rpm.is_defined("make_build") and "make_build" not in parser.compat


def test_fedora_macros_parse_and_the_analysis_says_it_is_approximate(parser: Parser, tmp_path: Path) -> None:
    result = parse(parser, tmp_path, HEADER.format(name="pkg") + (
        "BuildRequires: %{py3_dist torch numpy}\nBuildRequires: python%{python3_pkgversion}-devel\n%description\nd\n"
        "%package -n python3-pkg\nSummary: p\n%description -n python3-pkg\np\n%files -n python3-pkg\n"
        "%changelog\n%autochangelog\n"))
    assert result["ok"], result
    assert result["release"] == "1.fc44"
    assert result["buildrequires"] == ["python3-devel", "python3dist(numpy)", "python3dist(torch)"]
    assert [p["name"] for p in result["packages"]] == ["python3-pkg"]  # the main package has no %files
    assert any("%autorelease" in a and "%py3_dist" in a for a in result["approximate"])


def test_buildsystem_specs_for_rpm_420(parser: Parser, tmp_path: Path) -> None:
    result = parse(parser, tmp_path, HEADER.format(name="pkg") + (
        "BuildSystem: pyproject\nBuildOption(install): -l pkg\nBuildOption(generate_buildrequires): -x test\n"
        "BuildRequires: python3-devel\n%description\nd\n%files\n"))
    assert result["ok"], result
    assert {"kind": "pyproject", "args": ["-x", "test"]} in result["generators"]
    assert any("BuildSystem: pyproject needs rpm 4.20" in a for a in result["approximate"])


def test_an_unknown_macro_in_a_tag_position_is_taken_as_empty(parser: Parser, tmp_path: Path) -> None:
    result = parse(parser, tmp_path, HEADER.format(name="pkg") + "%some_unknown_meta -a -b\n%description\nd\n%files\n")
    assert result["ok"], result
    assert any("%some_unknown_meta" in a for a in result["approximate"])


def test_a_spec_rpm_refuses_gets_rpms_reason(parser: Parser, tmp_path: Path) -> None:
    result = parse(parser, tmp_path, "Name: pkg\nVersion: 1\n%description\n")
    assert not result["ok"] and "field must be present" in result["error"]


def test_generators_are_read_as_the_section_runs_them(parser: Parser, tmp_path: Path) -> None:
    result = parse(parser, tmp_path, HEADER.format(name="pkg") + (
        "%global extras test\n%description\nd\n%generate_buildrequires\n%if 0%{?fedora}\nexport FOO=1\n%endif\n"
        "cd src/lib\n%pyproject_buildrequires -x %{extras}\npopd\necho 'tinylib-devel >= 2'\n"
        "%cargo_generate_buildrequires\nsh ./gen-deps.sh\n%build\n%files\n"))
    assert result["ok"], result
    assert result["generators"] == [
        {"kind": "pyproject", "args": ["-x", "test"], "dir": "src/lib"},
        {"kind": "echo", "args": ["tinylib-devel >= 2"]},
        {"kind": "cargo", "args": [], "dir": ""},
        {"kind": "other", "text": "sh ./gen-deps.sh"},
    ]


def test_ecosystem_names_are_kept_for_conventions(parser: Parser, tmp_path: Path) -> None:
    result = parse(parser, tmp_path, (
        "%global goipath github.com/spf13/cobra\n%global pypi_name Cobra\n%gometa\n"
        "Name: %{goname}\nVersion: 1.8.0\nRelease: 1\nSummary: s\nLicense: MIT\nURL: %{gourl}\n%description\nd\n"
        "%gopkg\n%gopkgfiles\n"), name="golang-github-spf13-cobra")
    assert result["ok"], result
    assert result["name"] == "golang-github-spf13-cobra"  # %goname, as Fedora's Go macros name it
    assert result["hints"]["goipath"] == "github.com/spf13/cobra" and result["hints"]["pypi_name"] == "Cobra"
    assert [p["name"] for p in result["packages"]] == ["golang-github-spf13-cobra-devel"]


def test_source0_is_the_first_source(parser: Parser, tmp_path: Path) -> None:
    result = parse(parser, tmp_path, HEADER.format(name="pkg") + (
        "Source5: c.conf\nSource0: %{pypi_source pkg 1.2}\nPatch0: fix.patch\n%description\nd\n%files\n"))
    assert result["sources"] == ["https://files.pythonhosted.org/packages/source/p/pkg/pkg-1.2.tar.gz", "c.conf"]


def test_the_bases_python_is_used_where_the_host_has_none(parser: Parser, tmp_path: Path) -> None:
    path = tmp_path / "pkg.spec"
    path.write_text(HEADER.format(name="pkg") + "%if 0%{?python3_version_nodots} >= 314\nBuildRequires: new-enough\n"
                    "%endif\n%description\nd\n%files\n")
    fallback = (("python3_version", "3.14"),)
    result = parser.parse(SpecRequest(str(path), (("dist", ".fc44"),), None, fallback))
    if "python3_version" in parser.host_macros:
        pytest.skip("this host defines %python3_version itself (its own wins)")
    assert result["ok"] and result["buildrequires"] == ["new-enough"]
