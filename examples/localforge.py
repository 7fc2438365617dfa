#!/usr/bin/env python3
"""A loopback forge serving the example stream set: dist-git, upstream git and a lookaside cache.

The example stack is shaped like "Python 3.11 + a recent PyTorch + vLLM from upstream":

* dist-git ``tinypython3.11``: branches ``release-3.11``, ``release-3.12`` and ``rawhide``;
* dist-git ``tinytorch``: branches ``release-2.10``, ``release-2.11`` and ``rawhide``;
* upstream git ``tinyllm``: tag ``v0.20.0``, branch ``releases/v0.20.0`` and a later commit on ``main``;

and a small real stack whose builds use each other's contents:

* dist-git ``tinyz``, a C library: branches ``release-1`` (1.4.2, ``libtinyz.so.1``) and
  ``release-2`` (2.1.0, ``libtinyz.so.2``, a changed ``tinyz_pack``), and ``rawhide``;
* dist-git ``python-tinyconf``, a Python module (``python3-tinyconf``): ``release-0.3``;
* dist-git ``tinyzip``, a program: ``release-1.0``; it compiles against the tinyz header of
  either series, links libtinyz, writes its config header with tinyconf during ``%build``
  and runs its tests in ``%check``; ``tinyzip --version`` says which series it was built against.

The package contents live as plain files next to this script (``distgit/<name>/<branch>/`` with
the tarball's contents under ``tarball/``, and ``upstream/<name>/<tree>/``). :func:`create` turns
them into bare repositories and a lookaside tree; :class:`LocalForge` serves those on 127.0.0.1
with ``git daemon`` and a threaded HTTP server. Everything generated is reproducible: the same
files give the same tarball hashes and commit ids.

Usage::

    python3 examples/localforge.py create ROOT
    python3 examples/localforge.py serve ROOT [--manifest OUT.yaml] [--installroot DIR] [--stack toy|full]

Only the standard library and the ``git`` executable are needed.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tarfile
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Dict, List, Mapping, Optional, Tuple, Type, Union

EXAMPLES = Path(__file__).resolve().parent
TARBALL_DIR = "tarball"  # in a dist-git branch directory: the Source0 tarball's contents
EPOCH = 1717200000  # 2024-06-01T00:00:00Z: the first commit's date, and every tarball member's mtime
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Stream Build Examples",
    "GIT_AUTHOR_EMAIL": "examples@stream-build.invalid",
    "GIT_COMMITTER_NAME": "Stream Build Examples",
    "GIT_COMMITTER_EMAIL": "examples@stream-build.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,  # no user settings (signing, hooks) in the generated history
    "GIT_CONFIG_NOSYSTEM": "1",
}

#: Hash type of each dist-git package's ``sources`` file (default sha512, the new format; md5 is the old one).
SOURCES_HASH = {"tinypython3.11": "sha512", "tinytorch": "md5", "tinyz": "sha512", "python-tinyconf": "sha512",
                "tinyzip": "sha512"}

#: Upstream histories, oldest commit first: (tree directory, message, branches moved there, tag).
UPSTREAM_HISTORY: Dict[str, List[Tuple[str, str, Tuple[str, ...], Optional[str]]]] = {
    "tinyllm": [
        ("0.20.0", "Release 0.20.0", ("main", "releases/v0.20.0"), "v0.20.0"),
        ("main", "Add Engine.stream", ("main",), None),
    ],
}

#: The stacks a manifest can build: ``toy`` (three noarch components that build in about a
#: second), and ``full``: the toy stack plus a small real one whose builds use each other's
#: files: the C library tinyz at its release-2 series (libtinyz.so.2), the Python module
#: tinyconf, and tinyzip, which compiles and links against tinyz, writes its config header
#: with tinyconf at build time, and runs its test suite in %check.
STACKS = ("toy", "full")

MANIFEST = """\
name: tinystack
base: fedora-44-x86_64
build:
- type: dist-git
  url: {distgit_url}
  lookaside: {lookaside_url}
  packages:
  - tinypython3.11:release-3.11
  - tinytorch:release-2.11
{full_packages}- type: git
  url: {upstream_url}
  packages:
  - tinyllm:v0.20.0
install:
  type: installroot
  path: {install_path}
  packages:
  - tinyllm
{full_install}"""

FULL_PACKAGES = "  - tinyz:release-2\n  - python-tinyconf:release-0.3\n  - tinyzip:release-1.0\n"
FULL_INSTALL = "  - tinyzip\n"


def git(git_dir: Path, *args: str, env: Optional[Mapping[str, str]] = None, stdin: bytes = b"") -> str:
    """Run ``git --git-dir=GIT_DIR ARGS`` with the examples' identity; return its stripped output."""
    result = subprocess.run(
        ["git", f"--git-dir={git_dir}", *args],
        input=stdin,
        capture_output=True,
        env={**os.environ, **GIT_IDENTITY, **(env or {})},
    )
    if result.returncode:
        raise RuntimeError(f"git {' '.join(args)} failed: {result.stderr.decode().strip()}")
    return result.stdout.decode().strip()


@dataclass(frozen=True)
class ForgeLayout:
    """Where a forge keeps its bare repositories and lookaside files under ``root``."""

    root: Path

    @property
    def git_root(self) -> Path:
        """The git daemon's base path: ``rpms/<name>.git`` and ``upstream/<name>.git``."""
        return self.root / "git"

    @property
    def lookaside(self) -> Path:
        """The lookaside tree: ``<name>/<file>/<hashtype>/<hash>/<file>`` (md5: ``<name>/<file>/<hash>/<file>``)."""
        return self.root / "lookaside"

    def repo(self, name: str, namespace: str = "rpms") -> Path:
        """The bare repository of ``name`` (namespace ``rpms`` for dist-git, ``upstream`` for git)."""
        return self.git_root / namespace / f"{name}.git"

    def upload(self, name: str, filename: str, data: bytes, hashtype: str = "sha512") -> str:
        """Store a source file in the lookaside; return its line for a ``sources`` file."""
        digest = hashlib.new(hashtype, data).hexdigest()
        # Fedora's lookaside keeps md5 files (the old sources format) without the hash type in the path
        target = self.lookaside / name / filename / (digest if hashtype == "md5" else f"{hashtype}/{digest}") / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        if hashtype == "md5":
            return f"{digest}  {filename}\n"
        return f"{hashtype.upper()} ({filename}) = {digest}\n"

    def corrupt_lookaside(self, name: str, filename: str, data: bytes = b"corrupted\n") -> List[Path]:
        """Overwrite every stored copy of a lookaside file, so downloads no longer match their hash."""
        paths = sorted(set((self.lookaside / name / filename).glob(f"*/*/{filename}"))
                       | set((self.lookaside / name / filename).glob(f"*/{filename}")))
        if not paths:
            raise FileNotFoundError(f"no lookaside file {filename} for {name}")
        for path in paths:
            path.write_bytes(data)
        return paths

    def add_commit(
        self,
        repo_name: str,
        branch: str,
        files: Mapping[str, Union[str, bytes]],
        message: str,
        namespace: str = "rpms",
    ) -> str:
        """Commit ``files`` (path -> content) on top of ``branch`` and move the branch; return the commit id."""
        git_dir = self.repo(repo_name, namespace)
        parent = git(git_dir, "rev-parse", "--verify", f"refs/heads/{branch}^{{commit}}")
        contents = {path: data.encode() if isinstance(data, str) else data for path, data in files.items()}
        commit = _commit(git_dir, contents, message, parent, keep_tree=True)
        git(git_dir, "update-ref", f"refs/heads/{branch}", commit, parent)
        return commit


def create(root: Path) -> ForgeLayout:
    """Build the example repositories and lookaside under ``root``, replacing any earlier ones."""
    layout = ForgeLayout(Path(root).resolve())
    for path in (layout.git_root, layout.lookaside):
        shutil.rmtree(path, ignore_errors=True)
    for package in sorted(p for p in (EXAMPLES / "distgit").iterdir() if p.is_dir()):
        _create_distgit(layout, package)
    for project in sorted(p for p in (EXAMPLES / "upstream").iterdir() if p.is_dir()):
        _create_upstream(layout, project)
    return layout


def _create_distgit(layout: ForgeLayout, package: Path) -> None:
    """Create one dist-git repository: a commit per branch directory, oldest version first.

    Each commit holds the directory's files (spec, patches) and a ``sources`` file; the tarball goes
    to the lookaside. ``rawhide``, the repository's default branch, points at the newest branch.
    """
    git_dir = _init_bare(layout.repo(package.name), "rawhide")
    commit: Optional[str] = None
    for branch in sorted((p for p in package.iterdir() if p.is_dir()), key=lambda p: _natural_key(p.name)):
        files = _read_files(branch, exclude=TARBALL_DIR)
        spec = files[f"{package.name}.spec"].decode()
        tarball = _source0(spec, package.name)
        data = make_tarball(branch / TARBALL_DIR, tarball[: -len(".tar.gz")])
        files["sources"] = layout.upload(package.name, tarball, data, SOURCES_HASH.get(package.name, "sha512")).encode()
        commit = _commit(git_dir, files, f"Update to {_spec_tag(spec, 'Version')}", commit)
        git(git_dir, "update-ref", f"refs/heads/{branch.name}", commit)
    if commit:
        git(git_dir, "update-ref", "refs/heads/rawhide", commit)


def _create_upstream(layout: ForgeLayout, project: Path) -> None:
    """Replay ``UPSTREAM_HISTORY`` for one project: commits, branches and annotated tags."""
    git_dir = _init_bare(layout.repo(project.name, "upstream"), "main")
    commit: Optional[str] = None
    for tree, message, branches, tag in UPSTREAM_HISTORY[project.name]:
        commit = _commit(git_dir, _read_files(project / tree), message, commit)
        for branch in branches:
            git(git_dir, "update-ref", f"refs/heads/{branch}", commit)
        if tag:
            git(git_dir, "tag", "-a", "-m", f"{project.name} {tag}", tag, commit, env=_dates(git_dir, commit, 0))


def _init_bare(git_dir: Path, head: str) -> Path:
    """Create an empty bare repository whose HEAD names ``head``."""
    git_dir.mkdir(parents=True)
    git(git_dir, "init", "--quiet", "--bare")
    git(git_dir, "symbolic-ref", "HEAD", f"refs/heads/{head}")
    return git_dir


def _commit(
    git_dir: Path, files: Mapping[str, bytes], message: str, parent: Optional[str], keep_tree: bool = False
) -> str:
    """Write a commit whose tree is ``files`` (added to the parent's tree if ``keep_tree``)."""
    with tempfile.TemporaryDirectory() as tmp:
        index = {"GIT_INDEX_FILE": str(Path(tmp, "index"))}
        if parent and keep_tree:
            git(git_dir, "read-tree", parent, env=index)
        for path, data in sorted(files.items()):
            blob = git(git_dir, "hash-object", "-w", "--stdin", stdin=data)
            git(git_dir, "update-index", "--add", "--cacheinfo", f"100644,{blob},{path}", env=index)
        tree = git(git_dir, "write-tree", env=index)
    parents = ["-p", parent] if parent else []
    return git(git_dir, "commit-tree", tree, *parents, "-m", message, env=_dates(git_dir, parent, 3600))


def _dates(git_dir: Path, commit: Optional[str], later: int) -> Dict[str, str]:
    """Author and committer dates ``later`` seconds after ``commit``'s (or EPOCH): reproducible ids."""
    when = int(git(git_dir, "show", "-s", "--format=%ct", commit)) + later if commit else EPOCH
    return {"GIT_AUTHOR_DATE": f"{when} +0000", "GIT_COMMITTER_DATE": f"{when} +0000"}


def _read_files(directory: Path, exclude: Optional[str] = None) -> Dict[str, bytes]:
    """The files under ``directory`` by relative POSIX path, leaving out the subdirectory ``exclude``."""
    return {
        path.relative_to(directory).as_posix(): path.read_bytes()
        for path in sorted(directory.rglob("*"))
        if path.is_file() and path.relative_to(directory).parts[0] != exclude
    }


def make_tarball(directory: Path, prefix: str) -> bytes:
    """A reproducible ``.tar.gz`` of ``directory`` under ``prefix/``: sorted, fixed owners, modes and times."""
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buffer, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
            for path in [directory, *sorted(directory.rglob("*"))]:
                relative = path.relative_to(directory).as_posix()
                info = tarfile.TarInfo(prefix if relative == "." else f"{prefix}/{relative}")
                info.mtime = EPOCH
                if path.is_dir():
                    info.type, info.mode = tarfile.DIRTYPE, 0o755
                    tar.addfile(info)
                else:
                    data = path.read_bytes()
                    info.size, info.mode = len(data), 0o644
                    tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _spec_tag(spec: str, tag: str) -> str:
    """The value of a spec preamble tag such as ``Version``."""
    match = re.search(rf"^{tag}:\s*(\S+)", spec, re.MULTILINE | re.IGNORECASE)
    if not match:
        raise ValueError(f"the spec has no {tag}: tag")
    return match.group(1)


def _source0(spec: str, name: str) -> str:
    """The file name of the spec's Source0, with ``%{name}`` and ``%{version}`` expanded."""
    value = _spec_tag(spec, "Source0").replace("%{name}", name).replace("%{version}", _spec_tag(spec, "Version"))
    return value.rsplit("/", 1)[-1]


def _natural_key(text: str) -> List[Union[int, str]]:
    """Sort key that orders ``release-3.9`` before ``release-3.12``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", text)]


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serves files without logging each request to stderr."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


class LocalForge:
    """Serves a forge root on 127.0.0.1: ``git daemon`` for the repositories, HTTP for the lookaside.

    Use as a context manager, or call :meth:`start` and :meth:`stop`. If ``root`` holds no
    repositories yet, :meth:`start` creates them first. The daemon logs to ``root/git-daemon.log``.
    """

    def __init__(self, root: Path) -> None:
        self.layout = ForgeLayout(Path(root).resolve())
        self.git_port = 0
        self.http_port = 0
        self._daemon: Optional[subprocess.Popen[bytes]] = None
        self._http: Optional[ThreadingHTTPServer] = None
        self._http_thread: Optional[threading.Thread] = None

    @property
    def distgit_url(self) -> str:
        """Base URL of the dist-git repositories: ``<url><name>.git``."""
        return f"git://127.0.0.1:{self.git_port}/rpms/"

    @property
    def upstream_url(self) -> str:
        """Base URL of the upstream repositories: ``<url><name>``."""
        return f"git://127.0.0.1:{self.git_port}/upstream/"

    @property
    def lookaside_url(self) -> str:
        """Base URL of the lookaside cache: ``<url><name>/<file>/<hashtype>/<hash>/<file>``."""
        return f"http://127.0.0.1:{self.http_port}/"

    def start(self) -> LocalForge:
        """Start both servers; return once each accepts connections."""
        if not self.layout.git_root.is_dir():
            create(self.layout.root)
        try:
            self._start_daemon()
            handler = functools.partial(_QuietHandler, directory=str(self.layout.lookaside))
            self._http = ThreadingHTTPServer(("127.0.0.1", 0), handler)
            self.http_port = self._http.server_address[1]
            self._http_thread = threading.Thread(target=self._http.serve_forever, args=(0.1,), daemon=True)
            self._http_thread.start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_daemon(self, attempts: int = 5) -> None:
        """Start ``git daemon`` on a free port, retrying if another process takes the port first."""
        for _ in range(attempts):
            port = _free_port()
            with open(self.layout.root / "git-daemon.log", "ab") as log:
                daemon = subprocess.Popen(
                    ["git", "daemon", "--reuseaddr", "--export-all", f"--base-path={self.layout.git_root}",
                     "--listen=127.0.0.1", f"--port={port}", "--informative-errors", str(self.layout.git_root)],
                    stdin=subprocess.DEVNULL,
                    stderr=log,  # clients see errors anyway (--informative-errors)
                    start_new_session=True,  # a Ctrl-C in the terminal reaches only us; stop() ends the daemon
                )
            if _wait_for_port(port, daemon):
                self._daemon, self.git_port = daemon, port
                return
            _terminate(daemon)
        raise RuntimeError("git daemon did not start")

    def stop(self) -> None:
        """Stop both servers and wait for them; their ports are closed afterwards."""
        if self._http:
            self._http.shutdown()
            self._http.server_close()
            if self._http_thread:
                self._http_thread.join()
            self._http = self._http_thread = None
        if self._daemon:
            _terminate(self._daemon)
            self._daemon = None

    def __enter__(self) -> LocalForge:
        return self.start()

    def __exit__(
        self, kind: Optional[Type[BaseException]], error: Optional[BaseException], trace: Optional[TracebackType]
    ) -> None:
        self.stop()

    def write_manifest(self, path: Path, install_path: Optional[Path] = None, stack: str = "toy") -> Path:
        """Write an example manifest building ``stack`` (see :data:`STACKS`) from this forge; return its path."""
        if stack not in STACKS:
            raise ValueError(f"stack must be one of {STACKS}, not {stack!r}")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        full = stack == "full"
        path.write_text(MANIFEST.format(
            distgit_url=self.distgit_url,
            upstream_url=self.upstream_url,
            lookaside_url=self.lookaside_url,
            install_path=json.dumps(str(install_path)) if install_path else "./installroot",
            full_packages=FULL_PACKAGES if full else "",
            full_install=FULL_INSTALL if full else "",
        ))
        return path

    def add_commit(self, repo_name: str, branch: str, files: Mapping[str, Union[str, bytes]], message: str,
                   namespace: str = "rpms") -> str:
        """See :meth:`ForgeLayout.add_commit`."""
        return self.layout.add_commit(repo_name, branch, files, message, namespace)

    def corrupt_lookaside(self, name: str, filename: str, data: bytes = b"corrupted\n") -> List[Path]:
        """See :meth:`ForgeLayout.corrupt_lookaside`."""
        return self.layout.corrupt_lookaside(name, filename, data)


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 10) -> bool:
    """Whether ``process`` comes to accept connections on ``port`` before it exits or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process.poll() is None
        except OSError:
            time.sleep(0.05)
    return False


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """Stop ``process`` (politely first) and reap it."""
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def serve(root: Path, manifest: Path, installroot: Optional[Path] = None, stack: str = "full") -> None:
    """Create and serve the forge under ``root`` until SIGTERM or SIGINT, with a manifest for it."""
    for signum in (signal.SIGINT, signal.SIGTERM):  # both stop us like Ctrl-C, even when started with '&'
        signal.signal(signum, signal.default_int_handler)
    pid_file = Path(root) / "forge.pid"
    try:
        create(root)
        with LocalForge(root) as forge:
            forge.write_manifest(manifest, installroot, stack)
            pid_file.write_text(f"{os.getpid()}\n")
            print(f"dist-git:  {forge.distgit_url}\nupstream:  {forge.upstream_url}\n"
                  f"lookaside: {forge.lookaside_url}\nmanifest:  {manifest}\n"
                  f"Serving; stop with: kill $(cat {pid_file})", flush=True)
            while True:
                signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        pid_file.unlink(missing_ok=True)


def main(argv: Optional[List[str]] = None) -> int:
    """Command line: ``create ROOT`` or ``serve ROOT [--manifest OUT.yaml] [--installroot DIR]``."""
    parser = argparse.ArgumentParser(prog="localforge.py", description="Serve the example stream set on 127.0.0.1.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("create", help="build the repositories and lookaside under ROOT").add_argument(
        "root", type=Path)
    serving = commands.add_parser("serve", help="create, then serve ROOT on 127.0.0.1 until SIGTERM/SIGINT")
    serving.add_argument("root", type=Path)
    serving.add_argument("--manifest", type=Path, help="where to write the manifest (default: ROOT/stream-build.yaml)")
    serving.add_argument("--installroot", type=Path, help="the manifest's install path (default: ./installroot)")
    serving.add_argument("--stack", choices=STACKS, default="full",
                         help="what the manifest builds: the toy stack, or it and the real C/Python one (default)")
    args = parser.parse_args(argv)
    if args.command == "create":
        print(create(args.root).root)
    else:
        installroot = args.installroot.resolve() if args.installroot else None
        serve(args.root, args.manifest or args.root / "stream-build.yaml", installroot, args.stack)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
