"""Source preparation: a component at its locked commit, made into a spec and its sources.

dist-git components are exported at their commit (read through one ``git cat-file --batch``
process, from the repository itself when it is on this host, else from a shallow mirror
holding only the locked ref) and their lookaside files are fetched and verified. Upstream ``git`` components follow Packit's model: the spec
comes from the upstream repository when it carries one (else from dist-git), the
tarball is ``git archive`` of the locked commit, and the version comes from the ref.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from dataclasses import dataclass, field
from typing import Optional

from . import gitops, lookaside
from .errors import SourceError
from .lock import LockedComponent
from .manifest import Component
from .workdir import WorkDir

_VERSION_IN_REF = re.compile(r"^[vV]?(?P<version>[0-9][0-9A-Za-z.+~^_]*)$")
_DIGEST_FILE = ".stream-build-digest"  # the digest, then (since 0.2) the bytes of every file, for durations


@dataclass(frozen=True)
class PreparedSource:
    """A directory holding the spec and every source file rpmbuild needs."""

    name: str
    directory: str
    spec: str
    digest: str  # sha256 over every file's path and content
    size: Optional[int] = field(default=None, compare=False)  # bytes of its files, when known

    @property
    def spec_path(self) -> str:
        return os.path.join(self.directory, self.spec)


def version_from_ref(ref: str) -> Optional[str]:
    """``v0.20.0`` and ``releases/v0.20.0`` give ``0.20.0``; a branch like ``main`` gives None."""
    last = ref.rsplit("/", 1)[-1]
    match = _VERSION_IN_REF.match(last)
    return match.group("version").replace("-", "_") if match else None


def _destination(comp: Component, locked: LockedComponent, workdir: WorkDir) -> str:
    return workdir.sources_of(comp.name, locked.commit + (locked.spec_source.commit[:8] if locked.spec_source else ""))


def prepared_source(comp: Component, locked: LockedComponent, workdir: WorkDir) -> Optional[PreparedSource]:
    """What an earlier run prepared for ``comp`` at its locked commit, or ``None``."""
    dest = _destination(comp, locked, workdir)
    try:
        lines = _read_small(os.path.join(dest, _DIGEST_FILE)).decode().split()
    except FileNotFoundError:
        return None
    digest = lines[0] if lines else ""
    size = int(lines[1]) if len(lines) > 1 and lines[1].isdigit() else None  # None: prepared by an earlier version
    return PreparedSource(comp.name, dest, comp.spec or f"{comp.name}.spec", digest, size)


def _read_small(path: str) -> bytes:
    """A file of a few bytes, without the layers of ``open()`` (a re-plan reads two per component)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 4096)
    finally:
        os.close(fd)


def prepare(comp: Component, locked: LockedComponent, workdir: WorkDir) -> PreparedSource:
    """Prepare ``comp`` at its locked commit; reuse the result of an earlier run."""
    done = prepared_source(comp, locked, workdir)
    if done is not None:
        return done
    dest = _destination(comp, locked, workdir)
    spec = comp.spec or f"{comp.name}.spec"
    tmp = workdir.tmp(f"src-{comp.name}-")
    tree = os.path.join(tmp, "tree")
    try:
        if comp.source_type == "dist-git":
            _prepare_distgit(comp, locked.url, locked.commit, tree, workdir, locked.resolved)
        else:
            _prepare_upstream(comp, locked, tree, workdir, spec)
        if not os.path.isfile(os.path.join(tree, spec)):
            raise SourceError(f"component {comp.name}: no {spec} at commit {locked.commit[:12]}", comp.location)
        digest = tree_digest(tree)
        size = _tree_size(tree) + len(digest) + 1  # what size_guess counts: the digest file's first line included
        with open(os.path.join(tree, _DIGEST_FILE), "w") as handle:
            handle.write(f"{digest}\n{size}\n")
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        if os.path.exists(dest):
            shutil.rmtree(dest)
        os.replace(tree, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return PreparedSource(comp.name, dest, spec, digest, size)


def _tree_size(root: str) -> int:
    """What :func:`streambuild.durations.size_guess` counts, the digest file aside: the bytes of every file
    (links followed)."""
    total = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            if directory == root and name == _DIGEST_FILE:
                continue
            try:
                total += os.path.getsize(os.path.join(directory, name))
            except OSError:
                continue
    return total


def _prepare_distgit(comp: Component, url: str, commit: str, tree: str, workdir: WorkDir,
                     full_ref: Optional[str] = None) -> None:
    """The tree of ``commit`` (one ``git cat-file --batch`` process: see :func:`gitops.source_reader`) and the
    lookaside files its ``sources`` file names."""
    with gitops.source_reader(workdir.git_cache, url, commit, full_ref) as reader:
        reader.export(commit, tree)
    sources_file = os.path.join(tree, "sources")
    if os.path.isfile(sources_file):
        with open(sources_file, encoding="utf-8", errors="replace") as handle:
            entries = lookaside.parse_sources(handle.read(), f"{comp.name}:{commit[:12]}:sources")
        for entry in entries:
            try:
                lookaside.fetch(entry, comp.name, comp.lookaside, workdir.lookaside_cache, tree)
            except SourceError as exc:
                raise SourceError(exc.message, comp.location) from None


def _prepare_upstream(comp: Component, locked: LockedComponent, tree: str, workdir: WorkDir, spec: str) -> None:
    git_dir = gitops.fetch_commit(workdir.git_cache, locked.url, locked.commit, locked.resolved)
    if locked.spec_source is not None:
        _prepare_distgit(comp, locked.spec_source.url, locked.spec_source.commit, tree, workdir)
    else:
        gitops.export_tree(git_dir, locked.commit, tree)
    version = comp.version or version_from_ref(comp.ref) or _version_from_history(git_dir, locked.commit)
    tarball = f"{comp.name}-{version}.tar.gz"
    data = gitops.archive(git_dir, locked.commit, "tar.gz", prefix=f"{comp.name}-{version}/")
    with open(os.path.join(tree, tarball), "wb") as handle:
        handle.write(data)
    spec_path = os.path.join(tree, spec)
    if os.path.isfile(spec_path):
        with open(spec_path, encoding="utf-8") as handle:
            text = handle.read()
        with open(spec_path, "w", encoding="utf-8") as handle:
            handle.write(rewrite_spec(text, version, tarball))


def _version_from_history(git_dir: str, commit: str) -> str:
    tag = gitops.describe(git_dir, commit)
    base = version_from_ref(tag) if tag else None
    return f"{base or '0'}^{gitops.commit_time(git_dir, commit)}git{commit[:7]}"


def rewrite_spec(text: str, version: str, tarball: str) -> str:
    """Set ``Version:`` and the first source to the upstream snapshot (as Packit does)."""
    text, count = re.subn(r"(?mi)^(Version:\s*).*$", lambda m: m.group(1) + version, text, count=1)
    if count == 0:
        raise SourceError("spec has no Version: line to set the upstream version into")
    text, count = re.subn(r"(?mi)^(Source0?:\s*).*$", lambda m: m.group(1) + tarball, text, count=1)
    return text


def tree_digest(root: str) -> str:
    digest = hashlib.sha256()
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, root)
            if rel == _DIGEST_FILE:
                continue
            digest.update(rel.encode() + b"\0")
            if os.path.islink(path):
                digest.update(b"link:" + os.readlink(path).encode())
            else:
                digest.update(lookaside.file_hash(path, "sha256").encode())
            digest.update(b"\0")
    return digest.hexdigest()
