"""What a stream learns while it builds: real Provides replace predictions, late edges make a build
wait, and the series audit (real rpmbuild, createrepo_c, bubblewrap; base repositories made by the test)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import DATA, add_package, build_rpms, cli, make_repo, manifest, needs_rpm, spec

pytestmark = [pytest.mark.integration, needs_rpm]

TINYML = (DATA / "tinyml.spec.in").read_text()  # {version}: a Python module with a dist-info and a .pc file
TINYAPP = spec("tinyapp", buildrequires=["pkgconfig(tinyml) >= 2.10"])


def test_an_edge_only_the_base_metadata_knows(forge, tmp_path: Path) -> None:
    # the base has python3-tinyml 2.9.1, whose generated Provides include pkgconfig(tinyml); the
    # stream's tinyml (2.11.0) says nothing of pkgconfig in its spec, and no convention predicts it
    base = make_repo(tmp_path / "base", build_rpms(TINYML.format(version="2.9.1"), tmp_path / "base-build"))
    add_package(forge, "tinyml", "main", {"tinyml.spec": TINYML.format(version="2.11.0")})
    add_package(forge, "tinyapp", "main", {"tinyapp.spec": TINYAPP})
    m = manifest(tmp_path / "s.yaml", forge, ["tinyapp:main", "{name: tinyml, ref: main, replaces: true}"],
                 extra=f"base_repos:\n- {base.as_uri()}/\n")
    plan = json.loads(cli("plan", str(m), "--json").stdout)
    [edge] = [e for e in plan["edges"] if e["to"] == "tinyapp"]
    assert (edge["from"], edge["source"], edge["provide"]) == ("tinyml", "base-metadata", "pkgconfig(tinyml) = 2.11.0")
    assert [c["name"] for c in plan["components"]] == ["tinyml", "tinyapp"]
    # without the base, nothing predicts that edge: the plan says it does not know it
    bare = manifest(tmp_path / "bare.yaml", forge, ["tinyapp:main", "tinyml:main"])
    assert not json.loads(cli("plan", str(bare), "--json").stdout)["edges"]

    built = cli("build", str(m), "--json")
    assert built.code == 0, built.stderr
    # after the build the edge is known from tinyml's own RPMs (rpm's pkgconfig generator made it)
    again = json.loads(cli("plan", str(m), "--json").stdout)
    [edge] = [e for e in again["edges"] if e["to"] == "tinyapp"]
    assert edge["source"] == "built" and not edge["predicted"]
    tinyml = next(c for c in again["components"] if c["name"] == "tinyml")
    assert tinyml["provides_known_from"] == ["built"]
    summary = [e for e in built.events() if e.get("event") == "summary"][0]
    [audit] = [a for a in summary["audit"] if a["component"] == "tinyapp"]
    assert audit["stream"] == [{"requirement": "pkgconfig(tinyml) >= 2.10", "component": "tinyml",
                                "provide": "pkgconfig(tinyml) = 2.11.0"}]
    assert not summary["findings"]


GENERATED = """Name: consumer
Version: 1
Release: 1%{?dist}
Summary: s
License: MIT
BuildArch: noarch
%description
d
%generate_buildrequires
printf '%s\\n' 'tinylib-devel >= 1'
%build
%install
mkdir -p %{buildroot}/usr/share/consumer && echo ok > %{buildroot}/usr/share/consumer/ok
%files
/usr/share/consumer
%changelog
"""


def test_a_requirement_the_srpm_reveals_makes_the_build_wait(forge, tmp_path: Path) -> None:
    # consumer's generator is plain shell: planning cannot know what it prints, only its build can
    add_package(forge, "consumer", "main", {"consumer.spec": GENERATED})
    add_package(forge, "tinylib", "main", {"tinylib.spec": spec("tinylib", subpackages=["devel"])})
    m = manifest(tmp_path / "s.yaml", forge, ["consumer:main", "tinylib:main"])
    plan = json.loads(cli("plan", str(m), "--json").stdout)
    assert plan["batches"] == [["consumer", "tinylib"]]
    assert any("consumer: %generate_buildrequires runs" in n and "order may be incomplete" in n for n in plan["notes"])
    out = cli("build", str(m), "--json", "-j", "2")
    assert out.code == 0, out.stderr
    events = out.events()
    [added] = [e for e in events if e.get("event") == "edge-added"]
    assert (added["component"], added["after"], added["capability"]) == ("consumer", "tinylib", "tinylib-devel >= 1")
    order = [(e["component"], e["state"]) for e in events if e.get("event") == "component"]
    assert order.index(("tinylib", "done")) < order.index(("consumer", "building"))
    summary = [e for e in events if e.get("event") == "summary"][0]
    assert summary["added_edges"][0]["after"] == "tinylib"
    # the status of the run and its text summary say so too
    status = cli("status", str(m))
    assert "learned while building: consumer waited for tinylib (tinylib-devel >= 1)" in status.stdout
    # a second run reuses both and learns the same without rebuilding
    again = cli("build", str(m), "--json")
    assert again.states("consumer")[-1] == "cached" and again.states("tinylib")[-1] == "cached"


def test_the_audit_catches_a_build_against_the_base(forge, tmp_path: Path) -> None:
    # a cycle the base can break: tinylibb needs tinyliba-devel, which the base has (1.0); tinyliba needs
    # tinylibb-devel. tinylibb is built first, against the base's tinyliba-devel: the audit says so.
    base = make_repo(tmp_path / "base", build_rpms(spec("tinyliba", version="1.0", subpackages=["devel"]),
                                                   tmp_path / "base-build"))
    add_package(forge, "tinyliba", "main", {"tinyliba.spec": spec("tinyliba", version="2.0", subpackages=["devel"],
                                                                   buildrequires=["tinylibb-devel"])})
    add_package(forge, "tinylibb", "main", {"tinylibb.spec": spec("tinylibb", subpackages=["devel"],
                                                                   buildrequires=["tinyliba-devel"])})
    m = manifest(tmp_path / "s.yaml", forge, ["{name: tinyliba, ref: main, replaces: true}", "tinylibb:main"],
                 extra=f"base_repos:\n- {base.as_uri()}/\n")
    out = cli("build", str(m), "--json", "--no-check")
    assert out.code == 0, out.stderr
    summary = [e for e in out.events() if e.get("event") == "summary"][0]
    assert summary["findings"] == [
        "tinylibb was built against the base's tinyliba-devel 1.0-1 for tinyliba-devel; the stream has tinyliba "
        "2.0-1.fc44 (tinyliba-devel = 2.0-1.fc44)"]
    text = cli("status", str(m))
    assert "warning: tinylibb was built against the base's tinyliba-devel 1.0-1" in text.stdout
    check = cli("check", str(m), "--json")
    assert check.code == 3
    audited = [f for f in json.loads(check.stdout)["findings"] if f["rule"] == "series-audit"]
    assert [(f["component"], f["verdict"]) for f in audited] == [("tinylibb", "deny")]
