"""The container install target on real parts: buildah (vfs storage), docker-registry on loopback, skopeo.

There is no Fedora image and no network here, so the base image is made by the
tests (``buildah from scratch`` plus a marker file), pushed to the loopback
registry and used as ``base_image``. It has no DNF, which exercises the "install
into the mounted root from the host" path with the host's DNF4.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Iterator, List, Optional

import pytest

import localforge
from conftest import cli, needs_rpm

# the distribution registry: Debian's docker-registry, Fedora's docker-distribution (/usr/bin/registry)
REGISTRY = shutil.which("docker-registry") or shutil.which("registry")

pytestmark = [
    pytest.mark.integration,
    needs_rpm,
    pytest.mark.skipif(
        not (shutil.which("buildah") and shutil.which("skopeo") and REGISTRY),
        reason="needs buildah, skopeo and a distribution registry (scripts/packages.debian lists them)",
    ),
]

LABEL = "org.fedoraproject.stream-build."


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Registry:
    """A docker-registry (distribution) on 127.0.0.1, storage in a temporary directory."""

    def __init__(self, root: Path, readonly: bool = False) -> None:
        self.root = root
        self.port = _free_port()
        root.mkdir(parents=True, exist_ok=True)
        maintenance = "  maintenance:\n    readonly:\n      enabled: true\n" if readonly else ""
        (root / "config.yml").write_text(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {root / 'data'}\n{maintenance}http:\n  addr: 127.0.0.1:{self.port}\n"
        )
        self.proc: Optional[subprocess.Popen[bytes]] = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> "Registry":
        log = open(self.root / "registry.log", "ab")
        self.proc = subprocess.Popen([str(REGISTRY), "serve", str(self.root / "config.yml")],
                                     stdout=log, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return self
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"docker-registry did not start: {(self.root / 'registry.log').read_text()}")

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None


def containers_env(root: Path, registries: List[str]) -> dict:
    """buildah/skopeo settings of their own: vfs storage under ``root``, the loopback registries insecure."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "storage.conf").write_text(
        f'[storage]\ndriver = "vfs"\ngraphroot = "{root / "graph"}"\nrunroot = "{root / "run"}"\n'
    )
    (root / "registries.conf").write_text(
        "".join(f'[[registry]]\nlocation = "{r}"\ninsecure = true\n' for r in registries)
    )
    return {"CONTAINERS_STORAGE_CONF": str(root / "storage.conf"),
            "CONTAINERS_REGISTRIES_CONF": str(root / "registries.conf")}


def tool(*args: str, env: dict, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(list(args), env={**os.environ, **env}, capture_output=True, text=True, check=check)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    """A served forge, a loopback registry holding a DNF-less base image, and the example stream built once."""
    top = tmp_path_factory.mktemp("container")
    registry = Registry(top / "registry").start()
    down_port = _free_port()  # nothing listens there: a registry that is down
    refusing = Registry(top / "readonly", readonly=True).start()
    env = containers_env(top / "setup-storage", [registry.address, refusing.address, f"127.0.0.1:{down_port}"])
    ctr = tool("buildah", "from", "scratch", env=env).stdout.strip()
    mnt = Path(tool("buildah", "mount", ctr, env=env).stdout.strip())
    (mnt / "etc").mkdir()
    (mnt / "etc" / "base-image-marker").write_text("base\n")
    tool("buildah", "commit", "--quiet", ctr, "base:latest", env=env)
    tool("buildah", "rm", ctr, env=env)
    tool("buildah", "push", "--quiet", "localhost/base:latest", f"docker://{registry.address}/base:latest", env=env)
    # a base laid out like Fedora's: the rpm database in /usr/lib/sysimage/rpm, /var/lib/rpm a link to it
    ctr = tool("buildah", "from", "scratch", env=env).stdout.strip()
    mnt = Path(tool("buildah", "mount", ctr, env=env).stdout.strip())
    (mnt / "usr" / "lib" / "sysimage" / "rpm").mkdir(parents=True)
    (mnt / "var" / "lib").mkdir(parents=True)
    (mnt / "var" / "lib" / "rpm").symlink_to("../../usr/lib/sysimage/rpm")
    tool("buildah", "commit", "--quiet", ctr, "fedoralike:latest", env=env)
    tool("buildah", "rm", ctr, env=env)
    tool("buildah", "push", "--quiet", "localhost/fedoralike:latest", f"docker://{registry.address}/fedoralike:latest",
         env=env)
    with localforge.LocalForge(top / "forge") as forge:
        work = top / "stream"
        work.mkdir()
        built = forge.write_manifest(work / "built.yaml")
        out = cli("build", str(built))
        assert out.code == 0, out.stderr
        try:
            yield {"forge": forge, "registry": registry, "refusing": refusing, "down": f"127.0.0.1:{down_port}",
                   "work": work, "top": top}
        finally:
            registry.stop()
            refusing.stop()


@pytest.fixture
def storage(stack: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """Fresh buildah storage for one test; the CLI under test sees it through containers' own settings."""
    env = containers_env(tmp_path / "storage", [stack["registry"].address, stack["refusing"].address, stack["down"]])
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def container_manifest(stack: dict, name: str, base_image: Optional[str] = None, tag: str = "tinyllm:latest",
                       registry: Optional[str] = None, packages: str = "[tinyllm]") -> Path:
    forge = stack["forge"]
    path = stack["work"] / f"{name}.yaml"
    forge.write_manifest(path)
    text = path.read_text()
    text = text[: text.index("install:")]
    text += (f"install:\n  type: container\n  base_image: {base_image or stack['registry'].address + '/base:latest'}\n"
             f"  tag: {json.dumps(tag)}\n")
    if registry != "":
        text += f"  registry: {registry or stack['registry'].address + '/tests'}\n"
    text += f"  packages: {packages}\n"
    path.write_text(text)
    return path


def leftovers(env: dict) -> List[str]:
    """Working containers and untagged images left in the test's storage."""
    containers = tool("buildah", "containers", "--quiet", env=env).stdout.split()
    images = json.loads(tool("buildah", "images", "--json", env=env).stdout or "[]")
    dangling = [i["id"] for i in images if not i.get("names")]
    return containers + dangling


def inspect(reference: str, env: dict) -> subprocess.CompletedProcess:
    return tool("skopeo", "inspect", "--tls-verify=false", reference, env=env, check=False)


def test_run_pushes_an_image_that_contains_the_streams_packages(stack, storage):
    m = container_manifest(stack, "pushed")
    out = cli("run", str(m), "--json")
    assert out.code == 0, out.stderr
    summary = [e for e in out.events() if e.get("event") == "install-summary"][0]
    image = summary["image"]
    reference = f"{stack['registry'].address}/tests/tinyllm:latest"
    assert image["reference"] == reference and image["method"] == "host"
    assert sorted(n.rsplit("-", 2)[0] for n in image["installed"]) == ["tinyllm", "tinypython3.11", "tinytorch"]

    # what the registry holds: the digest printed, and labels recording the stream and its lock
    pushed = inspect(f"docker://{reference}", storage)
    assert pushed.returncode == 0, pushed.stderr
    info = json.loads(pushed.stdout)
    assert info["Digest"] == image["digest"]
    labels = info["Labels"]
    assert labels[LABEL + "stream"] == "tinystack" and labels[LABEL + "base"] == "fedora-44-x86_64"
    lock = json.loads((stack["work"] / "pushed.lock").read_text())
    for comp in lock["components"]:
        assert labels[LABEL + "commit." + comp["name"]] == comp["commit"]
    assert labels[LABEL + "packages"].split() == sorted(image["installed"])

    # its contents: the base image's files plus the stream's packages in the rpmdb, nothing more
    ctr = tool("buildah", "from", "--quiet", reference, env=storage).stdout.strip()
    try:
        mnt = Path(tool("buildah", "mount", ctr, env=storage).stdout.strip())
        assert (mnt / "etc" / "base-image-marker").read_text() == "base\n"
        # a base without rpm gets its database where the stream's base (Fedora 44) keeps it, and nowhere else
        db = ["--dbpath", "/usr/lib/sysimage/rpm"]
        assert [p.parent for p in mnt.rglob("rpmdb.sqlite")] == [mnt / "usr" / "lib" / "sysimage" / "rpm"]
        query = tool("rpm", "--root", str(mnt), *db, "-q", "tinyllm", "tinytorch", "tinypython3.11", env=storage,
                     check=False)
        assert query.returncode == 0, query.stdout + query.stderr
        assert tool("rpm", "--root", str(mnt), *db, "-q", "tinytorch-devel", env=storage, check=False).returncode != 0
        assert (mnt / "usr" / "lib" / "tinypython3.11" / "site-packages" / "tinyllm" / "__init__.py").is_file()
        # the rpm database was closed before the commit: everything is in rpmdb.sqlite, its WAL is empty
        assert [p.stat().st_size for p in mnt.rglob("rpmdb.sqlite-wal")] in ([], [0])
    finally:
        tool("buildah", "rm", ctr, env=storage)
    assert leftovers(storage) == []

    # the human form prints the reference and the digest
    again = cli("install", "-m", str(m))
    assert again.code == 0, again.stderr
    assert f"image: {reference}" in again.stdout and "digest: sha256:" in again.stdout


def test_output_writes_an_oci_archive_and_pushes_nothing(stack, storage, tmp_path):
    m = container_manifest(stack, "archived", tag="archived:v1")
    archive = tmp_path / "image.tar"
    out = cli("install", "-m", str(m), "--output", f"oci-archive:{archive}", "--json")
    assert out.code == 0, out.stderr
    summary = [e for e in out.events() if e.get("event") == "install-summary"][0]
    assert summary["image"]["reference"] == f"oci-archive:{archive}"
    info = json.loads(tool("skopeo", "inspect", f"oci-archive:{archive}", env=storage).stdout)
    assert info["Labels"][LABEL + "stream"] == "tinystack"
    assert "tinyllm-0.20.0-1.fc44.noarch" in info["Labels"][LABEL + "packages"].split()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("image.tar")] == ["image.tar"]
    assert inspect(f"docker://{stack['registry'].address}/tests/archived:v1", storage).returncode != 0
    assert leftovers(storage) == []


def test_no_registry_keeps_the_image_in_local_storage(stack, storage):
    m = container_manifest(stack, "local", tag="tinylocal:dev", registry="")
    out = cli("install", "-m", str(m))
    assert out.code == 0, out.stderr
    assert "image: localhost/tinylocal:dev" in out.stdout
    names = [n for i in json.loads(tool("buildah", "images", "--json", env=storage).stdout) for n in i.get("names") or []]
    assert "localhost/tinylocal:dev" in names
    assert leftovers(storage) == []


@pytest.mark.parametrize("which, code, words", [
    ("refusing", 1, "405"),
    ("down", 1, "connection refused"),
])
def test_a_registry_that_refuses_the_push_or_is_down(stack, storage, which, code, words):
    address = stack[which] if which == "down" else stack[which].address
    m = container_manifest(stack, f"push-{which}", registry=f"{address}/tests")
    out = cli("install", "-m", str(m))
    assert out.code == code, out.stderr
    assert f"pushing to {address}/tests/tinyllm:latest failed" in out.stderr and words in out.stderr
    if which == "refusing":
        assert inspect(f"docker://{address}/tests/tinyllm:latest", storage).returncode != 0  # nothing pushed
    assert leftovers(storage) == []


def test_a_base_image_that_does_not_exist(stack, storage):
    m = container_manifest(stack, "nobase", base_image=f"{stack['registry'].address}/no-such-base:44")
    out = cli("install", "-m", str(m))
    assert out.code == 2
    assert "install.base_image" in out.stderr and "no-such-base:44" in out.stderr and "does not exist" in out.stderr
    assert leftovers(storage) == []


def test_a_package_the_stream_does_not_provide_is_refused_before_buildah_runs(stack, storage):
    m = container_manifest(stack, "unprovided", packages="[tinyllm, no-such-rpm]")
    out = cli("install", "-m", str(m))
    assert out.code == 2
    assert "'no-such-rpm' is not provided by the stream" in out.stderr and "tinyllm" in out.stderr
    assert tool("buildah", "images", "--quiet", env=storage).stdout.split() == []  # not even the base was pulled


def test_install_before_the_stream_is_built(stack, storage, tmp_path):
    m = container_manifest(stack, "unbuilt")
    out = cli("install", "-m", str(m), "--workdir", str(tmp_path / "empty-workdir"))
    assert out.code == 2 and "has not been built" in out.stderr
    assert tool("buildah", "images", "--quiet", env=storage).stdout.split() == []


@pytest.mark.parametrize("field, value, words", [
    ("tag", "Not A Tag", "install.tag"),
    ("tag", "--rm", "install.tag"),
    ("base_image", "-evil", "install.base_image"),
])
def test_bad_image_names_are_refused(stack, storage, field, value, words):
    kwargs = {field: value}
    m = container_manifest(stack, f"bad-{field}", **kwargs)
    out = cli("install", "-m", str(m))
    assert out.code == 2 and words in out.stderr and repr(value) in out.stderr
    assert leftovers(storage) == []


def test_bad_output_options(stack, storage, tmp_path):
    m = container_manifest(stack, "badoutput")
    out = cli("install", "-m", str(m), "--output", f"tar:{tmp_path / 'x.tar'}")
    assert out.code == 2 and "oci-archive:PATH" in out.stderr
    out = cli("install", "-m", str(m), "--output", f"oci-archive:{tmp_path / 'missing-dir' / 'x.tar'}")
    assert out.code == 2 and "does not exist" in out.stderr
    out = cli("install", "-m", str(m), "--installroot", str(tmp_path / "root"), "--output", f"oci-archive:{tmp_path / 'x.tar'}")
    assert out.code == 2 and "--output only applies to the container target" in out.stderr
    assert not (tmp_path / "root").exists()


def _dnf4() -> Optional[str]:
    for name in ("dnf4", "dnf"):  # Fedora 41 and later: dnf is DNF5, DNF4 is dnf4
        path = shutil.which(name)
        if path and subprocess.run([path, "--version"], capture_output=True, text=True).stdout.startswith("4."):
            return path
    return None


@pytest.mark.skipif(_dnf4() is None, reason="needs DNF4's command (Debian: dnf; Fedora: dnf4)")
def test_dnf_stream_build_install_builds_the_image_too(stack, storage, tmp_path):
    """``dnf stream-build install`` on a manifest whose install: is a container does what stream-build does."""
    from conftest import ROOT

    m = container_manifest(stack, "via-dnf", tag="via-dnf:1")
    archive = tmp_path / "via-dnf.tar"
    proc = subprocess.run(
        [str(_dnf4()), f"--setopt=pluginpath={ROOT / 'plugins' / 'dnf'}", "stream-build", "install", "-m", str(m),
         "--output", f"oci-archive:{archive}"],
        env={**os.environ, **storage, "PYTHONPATH": str(ROOT / "core")}, capture_output=True, text=True,
        stdin=subprocess.DEVNULL)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"image: oci-archive:{archive}" in proc.stdout
    info = json.loads(tool("skopeo", "inspect", f"oci-archive:{archive}", env=storage).stdout)
    assert "tinyllm-0.20.0-1.fc44.noarch" in info["Labels"][LABEL + "packages"].split()
    assert leftovers(storage) == []


def test_the_rpm_database_goes_where_the_images_rpm_keeps_it(stack, storage):
    m = container_manifest(stack, "fedoralike", base_image=f"{stack['registry'].address}/fedoralike:latest",
                           tag="fedoralike:1")
    out = cli("install", "-m", str(m))
    assert out.code == 0, out.stderr
    reference = f"{stack['registry'].address}/tests/fedoralike:1"
    ctr = tool("buildah", "from", "--quiet", reference, env=storage).stdout.strip()
    try:
        mnt = Path(tool("buildah", "mount", ctr, env=storage).stdout.strip())
        database = mnt / "usr" / "lib" / "sysimage" / "rpm"
        assert (database / "rpmdb.sqlite").is_file()
        assert [p.stat().st_size for p in database.glob("rpmdb.sqlite-wal")] in ([], [0])
        assert not (mnt / "root").exists()  # not where this host's rpm would have put it
        query = tool("rpm", "--root", str(mnt), "--dbpath", "/usr/lib/sysimage/rpm", "-q", "tinyllm",
                     env=storage, check=False)
        assert query.returncode == 0, query.stdout + query.stderr
    finally:
        tool("buildah", "rm", ctr, env=storage)
    assert leftovers(storage) == []
