"""The local backend's build root, for real: rpmbuild, gcc, bubblewrap, overlayfs, rpm and the stream's own RPMs.

Each test builds small real components from the loopback forge: a C library whose header
and soname only the stream has, consumers that compile and link against it and run it in
%check, a Python module a consumer imports at build time, and builds that try to reach
outside their sandbox.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Dict, List, Sequence

import pytest

from conftest import Result, add_package, cli, manifest, needs_rpm, without_user_namespaces
from streambuild import sandbox

pytestmark = [
    pytest.mark.integration,
    needs_rpm,
    pytest.mark.skipif(sandbox.layers_available() is not None,
                       reason=f"build roots cannot be made here: {sandbox.layers_available()}"),
    pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc"),
]

CHANGELOG = "%changelog\n* Mon Jun 03 2024 Tests <tests@example.invalid> - 1-1\n- test\n"

# A C library: libsbz.so.<series> and its header, in a -devel package, from sources in the repository.
LIB_SPEC = """\
Name: sbz
Version: {series}.0
Release: 1%{{?dist}}
Summary: a test library
License: MIT
Source0: sbz.c
Source1: sbz.h
BuildRequires: gcc
%description
A library whose header and soname only the stream has.
%package devel
Summary: its header
Requires: %{{name}} = %{{version}}-%{{release}}
%description devel
Header.
%prep
cp %{{SOURCE0}} %{{SOURCE1}} .
%build
gcc -shared -fPIC -Wl,-soname,libsbz.so.{series} -o libsbz.so.{series} sbz.c
%install
install -D -m 0755 libsbz.so.{series} %{{buildroot}}%{{_libdir}}/libsbz.so.{series}
ln -s libsbz.so.{series} %{{buildroot}}%{{_libdir}}/libsbz.so
install -D -m 0644 sbz.h %{{buildroot}}%{{_includedir}}/sbz/sbz.h
%files
%{{_libdir}}/libsbz.so.{series}
%files devel
%{{_libdir}}/libsbz.so
%{{_includedir}}/sbz/
""" + CHANGELOG

LIB_C = "#include \"sbz.h\"\nint sbz_series(void) {{ return {series}; }}\n"
LIB_H = "#define SBZ_SERIES {series}\nint sbz_series(void);\n"

# A program that includes the library's header, links it, and runs it in %check.
APP_SPEC = """\
Name: sbapp
Version: 1.0
Release: 1%{?dist}
Summary: a test program
License: MIT
Source0: sbapp.c
BuildRequires: gcc
BuildRequires: make
BuildRequires: bash
BuildRequires: sbz-devel
%description
Compiled and linked against the stream's library.
%prep
cp %{SOURCE0} .
%build
gcc -o sbapp sbapp.c -lsbz
%install
install -D -m 0755 sbapp %{buildroot}%{_bindir}/sbapp
%check
./sbapp > check.out
grep -q "built against 2, running 2" check.out
%files
%{_bindir}/sbapp
""" + CHANGELOG

APP_C = """\
#include <stdio.h>
#include <sbz/sbz.h>
int main(void) { printf("built against %d, running %d\\n", SBZ_SERIES, sbz_series()); return 0; }
"""

# A Python module installed where the host's python3 imports from, and a consumer whose %check imports it.
PYMOD_SPEC = """\
%{!?python3_sitelib: %global python3_sitelib %(python3 -Esc "import sysconfig; print(sysconfig.get_path('purelib', vars={'platbase': '/usr', 'base': '/usr'}))")}
Name: python3-sbmod
Version: 0.3
Release: 1%{?dist}
Summary: a test module
License: MIT
BuildArch: noarch
%description
A module only the stream has.
%install
mkdir -p %{buildroot}%{python3_sitelib}/sbmod
echo 'ANSWER = 42' > %{buildroot}%{python3_sitelib}/sbmod/__init__.py
%files
%{python3_sitelib}/sbmod/
""" + CHANGELOG

PYUSER_SPEC = """\
Name: sbpyuser
Version: 1.0
Release: 1%{?dist}
Summary: imports the module at build time
License: MIT
BuildArch: noarch
BuildRequires: python3-sbmod
%description
Imports it.
%build
python3 -c 'import sbmod; print("answer", sbmod.ANSWER)' > answer
%install
install -D -m 0644 answer %{buildroot}%{_datadir}/sbpyuser/answer
%check
python3 -c 'import sbmod, sys; sys.exit(sbmod.ANSWER != 42)'
%files
%{_datadir}/sbpyuser/
""" + CHANGELOG


def script_spec(name: str, build: str, buildrequires: Sequence[str] = (), install: str = "") -> str:
    lines = [f"Name: {name}", "Version: 1.0", "Release: 1%{?dist}", f"Summary: {name}", "License: MIT",
             "BuildArch: noarch", *[f"BuildRequires: {b}" for b in buildrequires], "%description", name,
             "%build", build, "%install", install, f"mkdir -p %{{buildroot}}/usr/share/{name}",
             f"echo ok > %{{buildroot}}/usr/share/{name}/ok", "%files", f"/usr/share/{name}", CHANGELOG]
    return "\n".join(lines)


def add_lib(forge, series: int, branch: str = None) -> str:
    files = {"sbz.spec": LIB_SPEC.format(series=series), "sbz.c": LIB_C.format(series=series),
             "sbz.h": LIB_H.format(series=series)}
    return add_package(forge, "sbz", branch or f"release-{series}", files)


def events_of(out: Result, name: str, state: str) -> List[dict]:
    return [e for e in out.events() if e.get("event") == "component" and e["component"] == name and e["state"] == state]


def summary(out: Result) -> Dict[str, dict]:
    [last] = [e for e in out.events() if e.get("event") == "summary"]
    return {c["name"]: c for c in last["components"]}


def result_log(tmp_path: Path, name: str) -> str:
    return next((tmp_path / ".stream-build" / "results" / name).glob("*/build.log")).read_text()


def test_a_consumer_compiles_links_and_runs_against_the_streams_library(forge, tmp_path):
    add_lib(forge, 2)
    add_package(forge, "sbapp", "main", {"sbapp.spec": APP_SPEC, "sbapp.c": APP_C})
    m = manifest(tmp_path / "s.yaml", forge, ["sbz:release-2", "sbapp:main"])
    out = cli("build", str(m), "--json")
    assert out.code == 0, out.stderr + out.stdout[-3000:]
    # the header, the .so link and the soname came from the stream's RPMs; %check ran the program
    log = result_log(tmp_path, "sbapp")
    assert "sbz-devel-2.0-1.fc44" in log and "+ ./sbapp" in log
    [app] = (tmp_path / ".stream-build" / "repos" / "stream").glob("sbapp-1.0-1.fc44.*.rpm")
    requires = subprocess.run(["rpm", "-qp", "--requires", str(app)], capture_output=True, text=True).stdout
    assert "libsbz.so.2()(64bit)" in requires.split("\n")
    root = tmp_path / "unpacked"
    root.mkdir()
    subprocess.run(f"rpm2cpio {app} | cpio -idm --quiet", shell=True, cwd=root, check=True)
    dynamic = subprocess.run(["readelf", "-d", str(next(root.rglob("sbapp")))], capture_output=True, text=True).stdout
    assert "Shared library: [libsbz.so.2]" in dynamic
    # the host's tools it build-requires are assumed on a host whose packages are not RPMs, and said so
    app_summary = summary(out)["sbapp"]
    sources = {r["requirement"]: r["source"] for r in app_summary["buildrequires"]["buildrequires"]}
    assert sources == {"gcc": "assumed", "make": "assumed", "bash": "assumed", "sbz-devel": "stream"}
    assert "assumed from the host" in log and "gcc" in log
    assert events_of(out, "sbapp", "done")[0]["assumed_from_host"] == ["bash", "gcc", "make"]
    assert out.events()[-1]["backend"] == "local"
    # one rpmbuild: the analysis read the BuildRequires exactly, and the SRPM -ba made says the same
    assert " -ba -- " in log and " -bs -- " not in log
    # the human summary says so too, for a build and for an unchanged result
    text = cli("build", str(m))
    assert text.code == 0, text.stderr
    assert "backend: local (mock is not installed" in text.stdout
    assert "assumed from the host: bash, gcc, make" in text.stdout and "unchanged" in text.stdout


def test_the_same_consumer_fails_without_the_streams_header(forge, tmp_path):
    """Nothing on the host provides <sbz/sbz.h>: without the library in the stream it cannot compile."""
    add_package(forge, "sbapp", "main", {"sbapp.spec": APP_SPEC.replace("BuildRequires: sbz-devel\n", ""),
                                         "sbapp.c": APP_C})
    m = manifest(tmp_path / "s.yaml", forge, ["sbapp:main"])
    out = cli("build", str(m), "--json")
    assert out.code == 1
    [failed] = events_of(out, "sbapp", "failed")
    assert "sbz/sbz.h: No such file or directory" in failed["log_tail"]
    # built once, in one pass from the analysis's BuildRequires; the SRPM made after it agreed
    log = (tmp_path / ".stream-build" / "logs" / "sbapp.log").read_text()
    assert log.count("Executing(%build)") == 1 and " -ba -- " in log and "building again" not in log
    assert "Bad exit status" in log.rstrip().splitlines()[-1]  # the log ends as the build did


def test_the_series_the_stream_picks_is_the_one_built_against(forge, tmp_path):
    add_lib(forge, 1)
    add_lib(forge, 2)
    add_package(forge, "sbapp", "main", {"sbapp.spec": APP_SPEC.replace("built against 2, running 2", "built against 1, running 1"),
                                         "sbapp.c": APP_C})
    m = manifest(tmp_path / "s.yaml", forge, ["sbz:release-1", "sbapp:main"])
    out = cli("build", str(m), "--json")
    assert out.code == 0, out.stderr + out.stdout[-3000:]
    [app] = (tmp_path / ".stream-build" / "repos" / "stream").glob("sbapp-*.rpm")
    requires = subprocess.run(["rpm", "-qp", "--requires", str(app)], capture_output=True, text=True).stdout
    assert "libsbz.so.1()(64bit)" in requires.split("\n") and "libsbz.so.2()(64bit)" not in requires


def test_check_imports_a_python_module_only_the_stream_provides(forge, tmp_path):
    add_package(forge, "python3-sbmod", "main", {"python3-sbmod.spec": PYMOD_SPEC})
    add_package(forge, "sbpyuser", "main", {"sbpyuser.spec": PYUSER_SPEC})
    m = manifest(tmp_path / "s.yaml", forge, ["python3-sbmod:main", "sbpyuser:main"])
    out = cli("build", str(m), "--json")
    assert out.code == 0, out.stderr + out.stdout[-3000:]
    log = result_log(tmp_path, "sbpyuser")
    assert "Executing(%check)" in log and "import sbmod, sys" in log[log.index("Executing(%check)"):]
    # the module's analysis used a stand-in (%python3_sitelib): still one pass, the SRPM agreeing after it
    [plan] = [e for e in out.events() if e.get("event") == "plan"]
    assert [c["approximate"] for c in plan["plan"]["components"] if c["name"] == "python3-sbmod"] != [[]]
    module_log = result_log(tmp_path, "python3-sbmod")
    assert module_log.count("Executing(%install)") == 1 and " -ba -- " in module_log and "building again" not in module_log
    [rpm] = (tmp_path / ".stream-build" / "repos" / "stream").glob("sbpyuser-*.rpm")
    root = tmp_path / "unpacked"
    root.mkdir()
    subprocess.run(f"rpm2cpio {rpm} | cpio -idm --quiet", shell=True, cwd=root, check=True)
    assert (root / "usr/share/sbpyuser/answer").read_text() == "answer 42\n"
    # and the host's python3 has no such module: it came from the stream's RPM alone
    assert subprocess.run(["/usr/bin/python3", "-c", "import sbmod"], capture_output=True).returncode != 0


def test_a_build_cannot_write_outside_its_build_root_nor_reach_the_network(forge, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_text("keep me\n")
    hits: List[bytes] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    port = server.getsockname()[1]

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            hits.append(b"connected")
            conn.close()

    threading.Thread(target=serve, daemon=True).start()
    build = "\n".join([
        # the test's own directory is not in the build's view: these reach the build's own scratch at most
        f"rm -f {outside}; echo evil > {outside} || true",
        "touch /usr/share/stream-build-evil && echo WROTE-USR || echo refused-usr",
        "rm -rf /etc/hostname /etc/passwd && echo REMOVED-ETC || echo refused-etc",
        "touch /root/.evil && echo WROTE-ROOT || echo refused-root",
        f"python3 -c \"import socket; socket.create_connection(('127.0.0.1', {port}), timeout=3)\" "
        "&& echo REACHED || echo unreachable",
        "getent hosts src.fedoraproject.org && echo RESOLVED || echo no-dns",
    ])
    add_package(forge, "escaper", "main", {"escaper.spec": script_spec("escaper", build)})
    m = manifest(tmp_path / "s.yaml", forge, ["escaper:main"])
    try:
        out = cli("build", str(m))
    finally:
        server.close()
    assert out.code == 0, out.stderr
    log = result_log(tmp_path, "escaper")
    for refused in ("refused-usr", "refused-etc", "refused-root", "unreachable", "no-dns"):
        assert f"\n{refused}\n" in log, refused
    assert outside.read_text() == "keep me\n" and not Path("/usr/share/stream-build-evil").exists()
    assert not Path("/root/.evil").exists()
    assert hits == []


def test_a_spec_that_removes_files_outside_its_buildroot_in_install_fails_and_removes_nothing(forge, tmp_path):
    add_package(forge, "keeper", "main", {"keeper.spec": script_spec("keeper", ":")})
    install = "rm -rf %{_sourcedir}/../* %{_sourcedir}/keeper.spec /usr/share/doc"
    add_package(forge, "remover", "main", {"remover.spec": script_spec("remover", ":", ["keeper"], install)})
    m = manifest(tmp_path / "s.yaml", forge, ["keeper:main", "remover:main"])
    out = cli("build", str(m), "--json")
    assert out.code == 1
    [failed] = events_of(out, "remover", "failed")
    assert "Read-only file system" in failed["log_tail"]
    sources = tmp_path / ".stream-build" / "sources"
    assert sorted(p.name.split("-")[0] for p in sources.iterdir()) == ["keeper", "remover"]
    assert all(any(d.glob("*.spec")) for d in sources.iterdir())
    assert Path("/usr/share/doc").is_dir()


def test_parallel_builds_cannot_see_each_others_files(forge, tmp_path):
    workdir_tmp = tmp_path / ".stream-build" / "tmp"
    first = "\n".join(["echo mine > $PWD/../../MARKER-FIRST", "test -e $PWD/../../MARKER-FIRST", "sleep 4"])
    second = "\n".join([
        "sleep 1.5",
        f"ls {workdir_tmp} || true",
        f"if ls {workdir_tmp} 2>/dev/null | grep -q build-first; then echo SAW-FIRST; exit 1; fi",
        "if find / -xdev -name MARKER-FIRST 2>/dev/null | grep -q .; then echo FOUND-FIRST; exit 1; fi",
        "echo first-not-visible",
    ])
    add_package(forge, "first", "main", {"first.spec": script_spec("first", first)})
    add_package(forge, "second", "main", {"second.spec": script_spec("second", second)})
    m = manifest(tmp_path / "s.yaml", forge, ["first:main", "second:main"])
    out = cli("build", str(m), "-j", "2", "--json")
    assert out.code == 0, out.stderr + out.stdout[-2000:]
    order = [(e["component"], e["state"]) for e in out.events() if e.get("event") == "component"]
    assert order.index(("second", "building")) < order.index(("first", "done"))  # they did overlap
    assert "first-not-visible" in result_log(tmp_path, "second")


def test_a_missing_tool_is_refused_before_anything_runs(forge, tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for entry in Path("/usr/bin").iterdir():
        if entry.name != "createrepo_c":
            (bin_dir / entry.name).symlink_to(entry)
    add_package(forge, "keeper", "main", {"keeper.spec": script_spec("keeper", ":")})
    m = manifest(tmp_path / "s.yaml", forge, ["keeper:main"])
    proc = subprocess.run([sys.executable, "-m", "streambuild.cli", "build", str(m)], capture_output=True, text=True,
                          env={**os.environ, "PATH": str(bin_dir)}, stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 4, proc.stderr
    assert "createrepo_c (Debian: apt install createrepo-c; Fedora: dnf install createrepo_c)" in proc.stderr
    assert "Traceback" not in proc.stderr and "interrupted" not in proc.stderr
    workdir = tmp_path / ".stream-build"
    assert not (workdir / "results").exists() and not (tmp_path / "s.lock").exists()
    journal = workdir / "journal.jsonl"
    assert not journal.exists() or "run-start" not in journal.read_text()


@pytest.mark.parametrize("damage", ["not-an-rpm", "damaged-payload"])
def test_a_corrupt_dependency_rpm_fails_its_dependent_clearly(forge, tmp_path, damage):
    add_lib(forge, 2)
    add_package(forge, "sbapp", "main", {"sbapp.spec": APP_SPEC, "sbapp.c": APP_C})
    m = manifest(tmp_path / "s.yaml", forge, ["sbz:release-2", "sbapp:main"])
    assert cli("build", str(m)).code == 0
    [devel] = (tmp_path / ".stream-build" / "results" / "sbz").glob("*/sbz-devel-*.rpm")
    data = devel.read_bytes()
    # garbage, or the last bytes of the compressed payload zeroed (the header still reads)
    devel.write_bytes(b"this is not an rpm\n" if damage == "not-an-rpm" else data[:-64] + bytes(64))
    add_package(forge, "sbapp", "main", {"sbapp.spec": APP_SPEC, "sbapp.c": APP_C + "/* changed */\n"})
    assert cli("lock", str(m)).code == 0
    out = cli("build", str(m), "--json")
    assert out.code == 1 and "Traceback" not in out.stderr
    [failed] = events_of(out, "sbapp", "failed")
    if damage == "not-an-rpm":
        assert f"{devel} is not a readable RPM package" in failed["message"]
    else:
        assert failed["message"].startswith("cannot install the stream RPMs it needs into its build root")
        assert "sbz-devel" in failed["log_tail"]
    assert _mounts_under(tmp_path) == []


def _mounts_under(path: Path) -> List[str]:
    with open("/proc/self/mountinfo") as handle:
        return [line.split()[4] for line in handle if line.split()[4].startswith(str(path))]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounts a small tmpfs for the work directory in a mount namespace")
def test_a_build_that_fills_the_disk_is_an_environment_problem(forge, tmp_path):
    filler = "dd if=/dev/zero of=big bs=1M count=400"
    add_package(forge, "filler", "main", {"filler.spec": script_spec("filler", filler)})
    m = manifest(tmp_path / "s.yaml", forge, ["filler:main"])
    workdir = tmp_path / "small"
    workdir.mkdir()
    # the work directory is a 48 MiB tmpfs, in a mount namespace of the run's own: gone with it
    script = 'mount -t tmpfs -o size=48m stream-build-test "$1" && shift && exec "$@"'
    proc = subprocess.run(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script, "sh",
                           str(workdir), sys.executable, "-m", "streambuild.cli", "build", str(m), "--workdir",
                           str(workdir)], capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=300)
    assert proc.returncode == 4, proc.stderr
    assert "the build of filler ran out of disk space" in proc.stderr and "--resume" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _mounts_under(tmp_path) == []


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
@pytest.mark.parametrize("refusal", ["root without capabilities", "no user namespaces"])
def test_bubblewrap_refused_by_the_kernel_is_refused_before_the_first_build(forge, tmp_path, refusal):
    """As root without capabilities (an unprivileged container), or as a user to whom the kernel
    refuses user namespaces: exit 4 before anything is built, saying what to do."""
    import tempfile

    add_package(forge, "keeper", "main", {"keeper.spec": script_spec("keeper", ":")})
    top = Path(tempfile.mkdtemp(prefix="stream-build-refused-"))  # pytest's directories are root's alone
    try:
        os.chmod(top, 0o777)
        m = manifest(top / "s.yaml", forge, ["keeper:main"])
        command = [sys.executable, "-m", "streambuild.cli", "build", str(m)]
        if refusal == "root without capabilities":
            command = ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--", *command]
        else:
            command = without_user_namespaces(command)
        proc = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120,
                              env={**os.environ, "NO_USERNS_HOME": str(top)})
        assert proc.returncode == 4, proc.stderr
        assert proc.stderr.startswith("stream-build: error: the local build backend cannot make build roots here: "
                                      "bubblewrap cannot create a sandbox here")
        assert "run stream-build as root, or allow user namespaces" in proc.stderr and "--backend mock" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert not (top / ".stream-build" / "results").exists() and not (top / "s.lock").exists()
        assert _mounts_under(top) == []
    finally:
        shutil.rmtree(top, ignore_errors=True)


# A BuildRequire whose name changes at every parse: what the analysis read is never what the SRPM says.
DRIFTING_SPEC = """\
Name: sbdrift
Version: 1.0
Release: 1%{?dist}
Summary: a spec whose BuildRequires differ between two parses
License: MIT
BuildArch: noarch
BuildRequires: drift-%(tr -d - < /proc/sys/kernel/random/uuid)
%description
d
%install
mkdir -p %{buildroot}/usr/share/sbdrift
%files
/usr/share/sbdrift
""" + CHANGELOG


def test_a_build_whose_srpm_requires_what_the_analysis_did_not_read_is_made_again_srpm_first(forge, tmp_path):
    add_package(forge, "sbdrift", "main", {"sbdrift.spec": DRIFTING_SPEC})
    m = manifest(tmp_path / "s.yaml", forge, ["sbdrift:main"])
    out = cli("build", str(m), "--json")
    assert out.code == 0, out.stderr + out.stdout[-3000:]
    log = result_log(tmp_path, "sbdrift")
    assert "building again, SRPM first" in log and " -bs -- " in log and log.count("Executing(%install)") == 1
    [srpm] = (tmp_path / ".stream-build" / "results" / "sbdrift").glob("*/*.src.rpm")
    requires = subprocess.run(["rpm", "-qp", "--requires", str(srpm)], capture_output=True, text=True).stdout.split()
    [drift] = [r for r in requires if r.startswith("drift-")]
    # what was resolved (and is reported) is the SRPM's own requirement, not the one the analysis read
    resolved = [r["requirement"] for r in summary(out)["sbdrift"]["buildrequires"]["buildrequires"]]
    assert resolved == [drift]
