"""The loopback forge serves the example stream set, and each example spec builds with rpmbuild."""

from __future__ import annotations

import hashlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Dict, Iterator, List, Tuple

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
sys.path.insert(0, str(EXAMPLES))
import localforge  # noqa: E402

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not all(shutil.which(tool) for tool in ("git", "rpmbuild")), reason="needs git and rpmbuild"),
]

NEW_SOURCES = re.compile(r"^(?P<hashtype>\w+) \((?P<file>[^)]+)\) = (?P<digest>[0-9a-f]+)$")
OLD_SOURCES = re.compile(r"^(?P<digest>[0-9a-f]{32})  (?P<file>\S+)$")


@pytest.fixture(scope="module")
def forge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[localforge.LocalForge]:
    with localforge.LocalForge(tmp_path_factory.mktemp("forge")) as served:
        yield served


def run(*args: str) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True).stdout


def ls_remote(url: str) -> Dict[str, str]:
    """Ref name -> object id, as the git daemon advertises them."""
    return {ref: oid for oid, ref in (line.split("\t") for line in run("git", "ls-remote", url).splitlines())}


def clone(url: str, dest: Path) -> Path:
    run("git", "clone", "--quiet", "--bare", url, str(dest))
    return dest


def parse_sources(text: str) -> Tuple[str, str, str]:
    """(hashtype, file, digest) of a one-line ``sources`` file, in either format."""
    line = text.strip()
    new, old = NEW_SOURCES.match(line), OLD_SOURCES.match(line)
    if new:
        return new["hashtype"].lower(), new["file"], new["digest"]
    assert old, f"unparsable sources line: {line!r}"
    return "md5", old["file"], old["digest"]


def download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def port_is_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_repositories_have_the_example_refs(forge: localforge.LocalForge) -> None:
    python = ls_remote(f"{forge.distgit_url}tinypython3.11.git")
    assert {"refs/heads/release-3.11", "refs/heads/release-3.12", "refs/heads/rawhide"} <= python.keys()
    assert python["refs/heads/rawhide"] == python["refs/heads/release-3.12"] != python["refs/heads/release-3.11"]
    torch = ls_remote(f"{forge.distgit_url}tinytorch.git")
    assert {"refs/heads/release-2.10", "refs/heads/release-2.11", "refs/heads/rawhide"} <= torch.keys()
    llm = ls_remote(f"{forge.upstream_url}tinyllm")  # the git source form: no .git suffix
    assert llm["refs/tags/v0.20.0^{}"] == llm["refs/heads/releases/v0.20.0"] != llm["refs/heads/main"]


def lookaside_url(forge: localforge.LocalForge, name: str, filename: str, hashtype: str, digest: str) -> str:
    """Fedora's lookaside layout: md5 files (the old sources format) have no hash type in their path."""
    kind = "" if hashtype == "md5" else f"{hashtype}/"
    return f"{forge.lookaside_url}{name}/{filename}/{kind}{digest}/{filename}"


@pytest.mark.parametrize(
    "name, branch, hashtype",
    [("tinypython3.11", "release-3.11", "sha512"), ("tinypython3.11", "release-3.12", "sha512"),
     ("tinytorch", "release-2.11", "md5"), ("tinytorch", "release-2.10", "md5")],
)
def test_lookaside_serves_the_files_listed_in_sources(
    forge: localforge.LocalForge, tmp_path: Path, name: str, branch: str, hashtype: str
) -> None:
    repo = clone(f"{forge.distgit_url}{name}.git", tmp_path / "repo.git")
    stored_type, filename, digest = parse_sources(run("git", f"--git-dir={repo}", "show", f"{branch}:sources"))
    assert stored_type == hashtype
    data = download(lookaside_url(forge, name, filename, hashtype, digest))
    assert hashlib.new(hashtype, data).hexdigest() == digest
    top_directory = filename[: -len(".tar.gz")]
    assert data == localforge.make_tarball(EXAMPLES / "distgit" / name / branch / "tarball", top_directory)


# (package, ref, version, binary packages, rpm query option of the main package, a dependency it lists)
BUILDS = [
    ("tinypython3.11", "release-3.11", "3.11.9", ["tinypython3.11", "tinypython3.11-devel"], "--provides",
     "tinypython(abi) = 3.11"),
    ("tinypython3.11", "release-3.12", "3.12.4", ["tinypython3.11", "tinypython3.11-devel"], "--provides",
     "tinypython(abi) = 3.12"),
    ("tinytorch", "release-2.11", "2.11.0", ["tinytorch", "tinytorch-devel"], "--requires", "tinypython(abi) = 3.11"),
    ("tinytorch", "release-2.10", "2.10.2", ["tinytorch", "tinytorch-devel"], "--requires", "tinypython(abi) = 3.11"),
    ("tinyllm", "v0.20.0", "0.20.0", ["tinyllm"], "--requires", "tinytorch"),
    ("tinyz", "release-1", "1.4.2", ["tinyz", "tinyz-devel"], "--provides", "libtinyz.so.1()(64bit)"),
    ("tinyz", "release-2", "2.1.0", ["tinyz", "tinyz-devel"], "--provides", "libtinyz.so.2()(64bit)"),
    ("python-tinyconf", "release-0.3", "0.3.1", ["python3-tinyconf"], "--provides", "python3-tinyconf = 0.3.1-1.fc44"),
]


def prepare_distgit(forge: localforge.LocalForge, name: str, ref: str, topdir: Path) -> Path:
    """Export a dist-git branch into SOURCES and fetch its lookaside tarball; return the spec."""
    repo = clone(f"{forge.distgit_url}{name}.git", topdir / "repo.git")
    (topdir / "SOURCES").mkdir()
    run("git", f"--git-dir={repo}", "archive", f"--output={topdir / 'tree.tar'}", ref)
    run("tar", "-xf", str(topdir / "tree.tar"), "-C", str(topdir / "SOURCES"))
    hashtype, filename, digest = parse_sources((topdir / "SOURCES" / "sources").read_text())
    data = download(lookaside_url(forge, name, filename, hashtype, digest))
    (topdir / "SOURCES" / filename).write_bytes(data)
    return topdir / "SOURCES" / f"{name}.spec"


def prepare_upstream(forge: localforge.LocalForge, name: str, ref: str, version: str, topdir: Path) -> Path:
    """Make the tarball from an upstream ref and set the spec's Version, as stream-build does."""
    repo = clone(f"{forge.upstream_url}{name}", topdir / "repo.git")
    sources = topdir / "SOURCES"
    sources.mkdir()
    run("git", f"--git-dir={repo}", "archive", "--format=tar.gz", f"--prefix={name}-{version}/",
        f"--output={sources / f'{name}-{version}.tar.gz'}", ref)
    spec = run("git", f"--git-dir={repo}", "show", f"{ref}:{name}.spec")
    spec = re.sub(r"^Version:.*$", f"Version:        {version}", spec, count=1, flags=re.MULTILINE)
    (sources / f"{name}.spec").write_text(spec)
    return sources / f"{name}.spec"


@pytest.mark.parametrize("name, ref, version, binaries, option, dependency", BUILDS)
def test_example_specs_build(
    forge: localforge.LocalForge, tmp_path: Path, name: str, ref: str, version: str, binaries: List[str],
    option: str, dependency: str,
) -> None:
    topdir = tmp_path / "rpmbuild"
    topdir.mkdir()
    if name == "tinyllm":
        spec = prepare_upstream(forge, name, ref, version, topdir)
    else:
        spec = prepare_distgit(forge, name, ref, topdir)
    run("rpmbuild", "-bb", "--nodeps", "--define", f"_topdir {topdir}", "--define", "dist .fc44",
        "--define", "fedora 44", str(spec))
    arch = "noarch" if name != "tinyz" else run("rpm", "--eval", "%{_arch}").strip()  # tinyz is a C library
    rpms = topdir / "RPMS" / arch
    expected = [f"{binary}-{version}-1.fc44.{arch}.rpm" for binary in binaries]
    assert sorted(path.name for path in rpms.glob("*.rpm")) == expected
    main_rpm = str(rpms / expected[0])
    modes = run("rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILENAMES}\n]", main_rpm).splitlines()
    assert all("x" not in mode.split()[0] or ".so." in mode for mode in modes if mode.startswith("-")), modes
    assert dependency in run("rpm", "-qp", option, main_rpm).splitlines()


def test_create_is_reproducible(forge: localforge.LocalForge, tmp_path: Path) -> None:
    again = localforge.create(tmp_path / "again")
    for name, namespace in [("tinypython3.11", "rpms"), ("tinytorch", "rpms"), ("tinyllm", "upstream"),
                            ("tinyz", "rpms"), ("python-tinyconf", "rpms"), ("tinyzip", "rpms")]:
        refs = [run("git", f"--git-dir={layout.repo(name, namespace)}", "for-each-ref")
                for layout in (forge.layout, again)]
        assert refs[0] == refs[1]
    files = [sorted(p.relative_to(layout.lookaside) for p in layout.lookaside.rglob("*") if p.is_file())
             for layout in (forge.layout, again)]
    assert files[0] == files[1] and len(files[0]) == 8  # one tarball per dist-git branch


def test_helpers_and_stop(tmp_path: Path) -> None:
    forge = localforge.LocalForge(tmp_path / "forge").start()
    try:
        url = f"{forge.distgit_url}tinytorch.git"
        before = ls_remote(url)["refs/heads/release-2.11"]
        commit = forge.add_commit("tinytorch", "release-2.11", {"README.fedora": "rebuilt\n"}, "Add a note")
        assert ls_remote(url)["refs/heads/release-2.11"] == commit != before
        repo = clone(url, tmp_path / "tinytorch.git")
        assert run("git", f"--git-dir={repo}", "show", "release-2.11:README.fedora") == "rebuilt\n"
        assert run("git", f"--git-dir={repo}", "rev-parse", "release-2.11^") == f"{before}\n"

        _, filename, digest = parse_sources(run("git", f"--git-dir={repo}", "show", "release-2.11:sources"))
        forge.corrupt_lookaside("tinytorch", filename)
        data = download(lookaside_url(forge, "tinytorch", filename, "md5", digest))
        assert hashlib.md5(data).hexdigest() != digest
        with pytest.raises(urllib.error.HTTPError):
            download(lookaside_url(forge, "tinytorch", "missing.tar.gz", "md5", digest))

        manifest = forge.write_manifest(tmp_path / "stream-build.yaml", tmp_path / "root").read_text()
        assert f"  url: {forge.distgit_url}\n  lookaside: {forge.lookaside_url}\n" in manifest
        assert f"  url: {forge.upstream_url}\n  packages:\n  - tinyllm:v0.20.0\n" in manifest
        assert f'  path: "{tmp_path / "root"}"\n' in manifest
        assert "tinyz" not in manifest  # the toy stack alone, unless asked
        full = forge.write_manifest(tmp_path / "full.yaml", stack="full").read_text()
        assert "  - tinyz:release-2\n  - python-tinyconf:release-0.3\n  - tinyzip:release-1.0\n" in full
        assert full.endswith("  - tinyllm\n  - tinyzip\n")
    finally:
        forge.stop()
    assert not port_is_open(forge.git_port)
    assert not port_is_open(forge.http_port)


def test_serve_command_runs_until_sigterm(tmp_path: Path) -> None:
    root, manifest = tmp_path / "forge", tmp_path / "stream-build.yaml"
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLES / "localforge.py"), "serve", str(root), "--manifest", str(manifest)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (root / "forge.pid").exists():
            assert process.poll() is None and time.monotonic() < deadline
            time.sleep(0.1)
        assert (root / "forge.pid").read_text() == f"{process.pid}\n"
        port = int(re.search(r"git://127\.0\.0\.1:(\d+)/rpms/", manifest.read_text())[1])
        # serve's manifest builds the full example: the toy stack and the real one
        assert "  - tinyzip:release-1.0\n" in manifest.read_text() and "  - tinyzip\n" in manifest.read_text()
        assert "refs/heads/rawhide" in ls_remote(f"git://127.0.0.1:{port}/rpms/tinytorch.git")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "lookaside: http://127.0.0.1:" in process.stdout.read()
    assert not (root / "forge.pid").exists()
    assert not port_is_open(port)
