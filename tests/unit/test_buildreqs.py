"""Where each requirement of a build comes from: rpm's own version rules, real headers and a real rpm database."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Optional, Sequence

import pytest

from streambuild import buildreqs
from streambuild._foreign import rpmlib
from streambuild._foreign.rpmlib import Capability, PackageHeader
from streambuild.buildreqs import ForeignHost, Requirement, Resolution, RpmHost, resolve

pytest.importorskip("rpm", reason="rpm's Python bindings (python3-rpm) are not importable")


def header(nevr: str, provides: Sequence[str] = (), requires: Sequence[str] = (), files: Sequence[str] = (),
           arch: str = "x86_64") -> PackageHeader:
    name, version, release = nevr.rsplit("-", 2)
    return PackageHeader(f"/results/{nevr}.{arch}.rpm", name, None, version, release, arch, False,
                         (f"{name} = {version}-{release}", *provides), tuple(requires), tuple(files))


TINYZ = header("tinyz-2.1.0-1.fc44", ["libtinyz.so.2()(64bit)"], ["libc.so.6()(64bit)"], ["/usr/lib64/libtinyz.so.2"])
TINYZ_DEVEL = header("tinyz-devel-2.1.0-1.fc44", ["pkgconfig(tinyz) = 2.1.0"],
                     ["tinyz = 2.1.0-1.fc44", "libtinyz.so.2()(64bit)", "/usr/bin/pkg-config"],
                     ["/usr/include/tinyz.h", "/usr/lib64/libtinyz.so"])
TINYCONF = header("python3-tinyconf-0.3.1-1.fc44", ["python3dist(tinyconf) = 0.3.1"], ["python(abi) = 3.11"], arch="noarch")
UNRELATED = header("tinytorch-2.11.0-1.fc44", arch="noarch")
STREAM = [TINYZ, TINYZ_DEVEL, TINYCONF, UNRELATED]


class FakeRpmHost:
    """An RPM host with a fixed set of installed packages (the real one, RpmHost, is tested below)."""

    kind = "rpm"
    description = "a test host (RPM host)"

    def __init__(self, **installed: str) -> None:
        self.installed = {name: Capability.parse(text) for name, text in installed.items()}

    def provider(self, requirement: Capability) -> Optional[str]:
        for nevra, provide in self.installed.items():
            if rpmlib.overlaps(requirement, provide):
                return nevra
        return None


def test_on_a_foreign_host_what_the_stream_lacks_is_assumed_and_listed() -> None:
    result = resolve(["tinyz-devel >= 2", "gcc", "make", "python3dist(tinyconf)", "rpmlib(CompressedFileNames)"],
                     STREAM, ForeignHost("Debian GNU/Linux 12"))
    assert [(r.text, r.source, r.provider) for r in result.buildrequires] == [
        ("tinyz-devel >= 2", "stream", "tinyz-devel-2.1.0-1.fc44.x86_64"),
        ("gcc", "assumed", ""),
        ("make", "assumed", ""),
        ("python3dist(tinyconf)", "stream", "python3-tinyconf-0.3.1-1.fc44.noarch"),
    ]
    assert result.ok and result.assumed == ("gcc", "make")
    # the build root: what provides them and what those require from the stream, nothing unrelated
    assert result.installed == ("python3-tinyconf-0.3.1-1.fc44.noarch", "tinyz-2.1.0-1.fc44.x86_64",
                                "tinyz-devel-2.1.0-1.fc44.x86_64")
    assert set(result.install) == {TINYZ.path, TINYZ_DEVEL.path, TINYCONF.path}
    # the stream packages' own requirements from outside the stream are recorded, with who needs them
    assert [(r.text, r.source, r.needed_by) for r in result.runtime] == [
        ("/usr/bin/pkg-config", "assumed", "tinyz-devel-2.1.0-1.fc44.x86_64"),
        ("libc.so.6()(64bit)", "assumed", "tinyz-2.1.0-1.fc44.x86_64"),
        ("python(abi) = 3.11", "assumed", "python3-tinyconf-0.3.1-1.fc44.noarch"),
    ]
    text = "\n".join(result.lines())
    assert "Debian GNU/Linux 12" in text and "gcc" in text and "assumed from the host" in text


def test_a_stream_capability_at_the_wrong_version_is_missing_never_assumed() -> None:
    result = resolve(["tinyz-devel >= 3"], STREAM, ForeignHost())
    [req] = result.buildrequires
    assert req.source == "missing" and "tinyz-devel = 2.1.0-1.fc44" in req.reason
    assert not result.ok and result.install == ()


def test_on_an_rpm_host_the_host_is_checked() -> None:
    host = FakeRpmHost(**{"gcc-14.2.1-1.fc44.x86_64": "gcc = 14.2.1-1.fc44", "bash-5.2-1.fc44.x86_64": "bash = 5.2"})
    result = resolve(["gcc >= 14", "bash", "make", "tinyz-devel"], STREAM, host)
    assert [(r.source, r.provider) for r in result.buildrequires] == [
        ("host", "gcc-14.2.1-1.fc44.x86_64"), ("host", "bash-5.2-1.fc44.x86_64"), ("missing", ""),
        ("stream", "tinyz-devel-2.1.0-1.fc44.x86_64")]
    assert [r.text for r in result.missing] == ["make", "/usr/bin/pkg-config", "libc.so.6()(64bit)"]
    # an RPM host may satisfy a range the stream's version misses
    newer = FakeRpmHost(**{"tinyz-devel-3.0-1.x86_64": "tinyz-devel = 3.0-1"})
    assert resolve(["tinyz-devel >= 3"], STREAM, newer).buildrequires[0].source == "host"


def test_files_rich_dependencies_and_the_newest_provider() -> None:
    older = header("tinyz-devel-2.0.0-1.fc44", ["pkgconfig(tinyz) = 2.0.0"], files=["/usr/include/tinyz.h"])
    result = resolve(["/usr/include/tinyz.h", "(tinyz-devel >= 2 or nothing-at-all)", "(nothing-at-all or gcc)",
                      "(tinyz-devel if gcc)", "(tinyz-devel unless tinytorch)", "(tinyz and no-such-thing)",
                      "pkgconfig(tinyz) >= 2.0.5"],
                     [older, *STREAM], ForeignHost())
    got = [(r.source, r.provider) for r in result.buildrequires]
    assert [r.reason for r in result.buildrequires][3:5] == ["nothing needed: its condition does not hold"] * 2
    assert got == [
        ("stream", "tinyz-devel-2.1.0-1.fc44.x86_64"),  # the newer of two files' owners
        ("stream", "tinyz-devel-2.1.0-1.fc44.x86_64"),
        ("assumed", ""),
        ("stream", ""),  # the condition (gcc) is only assumed: not a fact, so nothing is needed
        ("stream", ""),  # tinytorch is in the stream: the 'unless' holds, nothing needed
        ("assumed", "tinyz-2.1.0-1.fc44.x86_64"),
        ("stream", "tinyz-devel-2.1.0-1.fc44.x86_64"),
    ]


def test_a_resolution_round_trips_through_json() -> None:
    result = resolve(["tinyz-devel", "gcc", "tinyz-devel >= 9"], STREAM, ForeignHost("Debian"))
    again = Resolution.from_json(result.to_json())
    assert again.buildrequires == result.buildrequires and again.runtime == result.runtime
    assert again.installed == result.installed and again.host == result.host and again.assumed == ("gcc",)
    assert Requirement.from_json({"requirement": "x", "source": "host"}) == Requirement("x", "host")


def _rpm(tmp_path: Path, name: str, body: str) -> Path:
    spec = tmp_path / f"{name}.spec"
    spec.write_text(f"Name: {name}\nVersion: 1.0\nRelease: 1\nSummary: s\nLicense: MIT\nBuildArch: noarch\n{body}"
                    f"%description\nd\n%install\nmkdir -p %{{buildroot}}/usr/bin\necho > %{{buildroot}}/usr/bin/{name}\n"
                    f"%files\n/usr/bin/{name}\n")
    subprocess.run(["rpmbuild", "--define", f"_topdir {tmp_path / 'top'}", "-bb", str(spec)], check=True,
                   capture_output=True)
    return next((tmp_path / "top" / "RPMS").rglob(f"{name}-1.0-1.noarch.rpm"))


def test_a_real_rpm_host_answers_from_its_rpm_database(tmp_path: Path) -> None:
    """RpmHost over a real rpm database holding a 'make' package; stream headers read from real RPMs."""
    make = _rpm(tmp_path, "make", "Provides: make-api = 4\n")
    lib = _rpm(tmp_path, "tinylib", "Requires: make-api >= 4\n")
    db = tmp_path / "db"
    subprocess.run(["rpm", "--dbpath", str(db), "-i", "--justdb", "--nodeps", str(make)], check=True)
    host = RpmHost("a test host", dbpath=str(db))
    result = resolve(["make", "/usr/bin/make", "make-api >= 5", "tinylib"], [rpmlib.read_header(str(lib))], host)
    assert [(r.source, r.provider) for r in result.buildrequires] == [
        ("host", "make-1.0-1.noarch"), ("host", "make-1.0-1.noarch"), ("missing", ""), ("stream", "tinylib-1.0-1.noarch")]
    assert [(r.text, r.source) for r in result.runtime] == [("make-api >= 4", "host")]
    assert "RPM host" in result.host


def test_this_host_is_detected_by_whether_its_rpm_database_knows_rpm() -> None:
    host = buildreqs.detect_host()
    owned = subprocess.run(["rpm", "-qf", "/usr/bin/rpm"], capture_output=True).returncode == 0
    assert host.kind == ("rpm" if owned else "foreign")
