"""Predicted Provides: conventions, the base's metadata re-versioned, and built RPMs winning over both."""

from __future__ import annotations

from typing import Sequence

import pytest

from streambuild.analyse import Analysis, BinaryPackage
from streambuild.baserepo import BasePackage, BaseProvides
from streambuild.graph import build_graph
from streambuild.predict import convention_provides, legacy_dist, pep503, predict

pytest.importorskip("rpm", reason="rpm's Python bindings compare the versions")


def analysis(name: str, packages: Sequence[str], version: str = "2.11.0", hints=(), buildrequires=()) -> Analysis:
    return Analysis(name, version, "1.fc44", tuple(buildrequires),
                    tuple(BinaryPackage(p, (f"{p} = {version}-1.fc44",)) for p in packages), hints=tuple(hints))


@pytest.mark.parametrize("package, expected", [
    ("python3-torch", ["python3dist(torch) = 2.11.0", "python3.14dist(torch) = 2.11.0"]),
    ("python3-zope-interface", ["python3dist(zope-interface) = 2.11.0", "python3.14dist(zope-interface) = 2.11.0"]),
    ("python3-requests+socks", ["python3dist(requests[socks]) = 2.11.0", "python3.14dist(requests[socks]) = 2.11.0"]),
    ("python3.11-numpy", ["python3.11dist(numpy) = 2.11.0"]),
    ("perl-Foo-Bar", ["perl(Foo::Bar)"]),
    ("rust-serde-devel", ["crate(serde) = 2.11.0"]),
    ("rust-serde+derive-devel", ["crate(serde/derive) = 2.11.0"]),
    ("rubygem-rake", ["rubygem(rake) = 2.11.0"]),
    ("nodejs-semver", ["npm(semver) = 2.11.0"]),
    ("R-ggplot2", ["R(ggplot2) = 2.11.0"]),
    ("libfoo-devel", []),  # no guideline fixes what a -devel package provides
])
def test_conventions_fedoras_guidelines_fix(package: str, expected: list) -> None:
    got = convention_provides(BinaryPackage(package), analysis("x", [package]), "3.14")
    assert got == expected


def test_the_pypi_name_wins_over_the_package_name_and_both_normalisations_are_provided() -> None:
    a = analysis("python-zope.interface", ["python3-zope.interface"], hints=[("pypi_name", "Zope.Interface")])
    got = convention_provides(a.packages[0], a, "3.14")
    assert "python3dist(zope-interface) = 2.11.0" in got and "python3dist(zope.interface) = 2.11.0" in got
    assert pep503("Zope.Interface") == "zope-interface" and legacy_dist("Zope.Interface") == "zope.interface"


def test_go_import_paths_and_what_lies_under_them() -> None:
    lib = analysis("golang-github-spf13-cobra", ["golang-github-spf13-cobra-devel"],
                   hints=[("goipath", "github.com/spf13/cobra")])
    app = analysis("app", ["app"], buildrequires=["golang(github.com/spf13/cobra/doc)"])
    facts = [predict(a, python_version="3.14").facts(a) for a in (lib, app)]
    edge = build_graph(facts).edges["app"]["golang-github-spf13-cobra"]
    assert edge.source == "convention" and edge.predicted


def test_base_metadata_is_re_versioned_to_the_stream() -> None:
    base = BaseProvides([BasePackage("python3-torch", "2.9.1-3.fc44", "x86_64", "python-torch-2.9.1-3.fc44.src.rpm", (
        "python3-torch = 2.9.1-3.fc44", "python3dist(torch) = 2.9.1", "libtorch.so.2.9()(64bit)",
        "cmake(Torch) = 2.9.1", "python3.14dist(torch) = 2.9.1"))])
    a = analysis("python-torch", ["python3-torch"])
    got = predict(a, base, python_version="3.14")
    assert dict(zip(got.provides, got.sources))["python3dist(torch) = 2.11.0"] == "base-metadata"
    assert "cmake(Torch) = 2.11.0" in got.by_source("base-metadata")
    assert "libtorch.so.2.9()(64bit)" in got.by_source("base-metadata")  # a soname: kept as the base has it
    assert not [p for p in got.provides if "2.9.1" in p]  # no old version is predicted for the stream
    # the base says what the package provides: the convention is not used on top of it
    assert "convention" not in got.sources


def test_built_rpms_are_the_truth() -> None:
    a = analysis("python-torch", ["python3-torch"])
    got = predict(a, built={"python3-torch": ["python3-torch = 2.11.0-1.fc44", "python3dist(torch) = 2.11"]})
    assert got.provides == ("python3-torch = 2.11.0-1.fc44", "python3dist(torch) = 2.11")
    assert set(got.sources) == {"built"}
