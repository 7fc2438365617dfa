"""The lock file (``stream-build.lock``): every component's ref resolved to a full commit.

A stream is always built from commits, never from moving branch heads. The lock is
JSON written deterministically (sorted keys, components in manifest order) so that
it diffs well and can be committed beside the manifest.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Dict, List, Optional, Tuple

from . import gitops, values
from .errors import LockError, Location, SourceError, UnsafeValueError
from .manifest import Component, Manifest
from .workdir import write_json

LOCK_VERSION = 1


@dataclass(frozen=True)
class SpecSource:
    """Where the spec of an upstream git component comes from when upstream carries none."""

    url: str
    ref: str
    commit: str


@dataclass(frozen=True)
class LockedComponent:
    name: str
    type: str
    url: str
    ref: str
    resolved: str
    commit: str
    spec_source: Optional[SpecSource] = None

    def identity(self) -> Dict[str, Any]:
        return {"name": self.name, "type": self.type, "url": self.url, "ref": self.ref}


@dataclass(frozen=True)
class Lock:
    base: str
    components: Tuple[LockedComponent, ...]

    def component(self, name: str) -> LockedComponent:
        for comp in self.components:
            if comp.name == name:
                return comp
        raise KeyError(name)

    def to_json(self) -> Dict[str, Any]:
        return {
            "version": LOCK_VERSION,
            "base": self.base,
            "components": [
                {k: v for k, v in asdict(c).items() if v is not None} for c in self.components
            ],
        }


def lock_path(manifest: Manifest) -> str:
    stem = os.path.splitext(manifest.path)[0]
    return f"{stem}.lock"


def read_lock(path: str) -> Lock:
    where = Location(path)
    try:
        with open(path, encoding="utf-8") as handle:
            data = json.load(handle)
    except FileNotFoundError:
        raise LockError("lock file not found (run 'stream-build lock' first)", where) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise LockError(f"cannot read lock file: {exc}", where) from None
    except json.JSONDecodeError as exc:
        raise LockError(f"not valid JSON: {exc.msg}", Location(path, exc.lineno, exc.colno)) from None
    if not isinstance(data, dict) or data.get("version") != LOCK_VERSION:
        raise LockError(f"not a stream-build lock of version {LOCK_VERSION}", where)
    if not isinstance(data.get("base"), str) or not isinstance(data.get("components"), list):
        raise LockError("lock needs 'base' (string) and 'components' (list)", where)
    comps = []
    for index, raw in enumerate(data["components"]):
        comps.append(_locked_component(raw, f"components[{index}]", where))
    return Lock(data["base"], tuple(comps))


def _locked_component(raw: Any, key: str, where: Location) -> LockedComponent:
    fields = ("name", "type", "url", "ref", "resolved", "commit")
    if not isinstance(raw, dict) or any(not isinstance(raw.get(f), str) for f in fields):
        raise LockError(f"{key}: needs string fields {', '.join(fields)}", where)
    unknown = set(raw) - set(fields) - {"spec_source"}
    if unknown:
        raise LockError(f"{key}: unknown keys {', '.join(sorted(unknown))}", where)
    spec_source = raw.get("spec_source")
    if spec_source is not None and (
        not isinstance(spec_source, dict) or any(not isinstance(spec_source.get(f), str) for f in ("url", "ref", "commit"))
    ):
        raise LockError(f"{key}.spec_source: needs string fields url, ref and commit", where)
    try:
        values.check_name(raw["name"])
        values.check_url(raw["url"])
        values.check_ref(raw["ref"])
        values.check_commit(raw["commit"], f"commit of {raw['name']}")
        if spec_source is not None:
            spec_source = SpecSource(
                values.check_url(spec_source["url"]),
                values.check_ref(spec_source["ref"]),
                values.check_commit(spec_source["commit"], f"spec_source commit of {raw['name']}"),
            )
    except UnsafeValueError as exc:
        raise LockError(f"{key}: {exc.message}", where) from None
    if raw["type"] not in ("dist-git", "git"):
        raise LockError(f"{key}: type must be 'dist-git' or 'git'", where)
    return LockedComponent(raw["name"], raw["type"], raw["url"], raw["ref"], raw["resolved"], raw["commit"], spec_source)


def write_lock(path: str, lock: Lock) -> None:
    write_json(path, lock.to_json())


def differences(manifest: Manifest, lock: Lock) -> List[str]:
    """What differs between a manifest and a lock, one readable line each (empty: they match)."""
    diffs = []
    if manifest.base.name != lock.base:
        diffs.append(f"base is {manifest.base.name} in the manifest, {lock.base} in the lock")
    locked = {c.name: c for c in lock.components}
    for comp in manifest.components:
        entry = locked.pop(comp.name, None)
        if entry is None:
            diffs.append(f"component {comp.name} is in the manifest but not in the lock")
            continue
        for key, want in comp.identity().items():
            have = entry.identity()[key]
            if want != have:
                diffs.append(f"component {comp.name}: {key} is {want!r} in the manifest, {have!r} in the lock")
    for name in locked:
        diffs.append(f"component {name} is in the lock but not in the manifest")
    return diffs


def check_matches(manifest: Manifest, lock: Lock, path: str) -> None:
    diffs = differences(manifest, lock)
    if diffs:
        raise LockError("the lock does not match the manifest: " + "; ".join(diffs) + " (run 'stream-build lock')", Location(path))


def resolve_lock(
    manifest: Manifest, git_cache: str, previous: Optional[Lock] = None, jobs: int = 8
) -> Lock:
    """Resolve every component's ref over git, in parallel.

    Entries of ``previous`` that still match the manifest are kept as they are
    (pass ``None`` to re-resolve everything).
    """
    keep = {}
    if previous is not None and previous.base == manifest.base.name:
        keep = {c.name: c for c in previous.components}

    def one(comp: Component) -> LockedComponent:
        old = keep.get(comp.name)
        if old is not None and old.identity() == comp.identity():
            return old
        return _resolve_component(comp, git_cache)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        locked = list(pool.map(one, manifest.components))
    return Lock(manifest.base.name, tuple(locked))


def _resolve_component(comp: Component, git_cache: str) -> LockedComponent:
    try:
        resolved = gitops.resolve(comp.repo_url, comp.ref)
    except SourceError as exc:
        raise SourceError(f"component {comp.name}: {exc.message}", comp.location) from None
    spec_source = None
    if comp.source_type == "git":
        git_dir = _fetch(comp, git_cache, comp.repo_url, resolved)
        spec_path = comp.spec or f"{comp.name}.spec"
        if gitops.file_at(git_dir, resolved.commit, spec_path) is None:
            if comp.spec:
                raise SourceError(f"component {comp.name}: {comp.spec} is not in {comp.repo_url} at {comp.ref}", comp.location)
            spec_source = _resolve_spec_source(comp)
    return LockedComponent(comp.name, comp.source_type, comp.repo_url, comp.ref, resolved.full_ref, resolved.commit, spec_source)


def _fetch(comp: Component, git_cache: str, url: str, resolved: gitops.ResolvedRef) -> str:
    try:
        return gitops.fetch_commit(git_cache, url, resolved.commit, resolved.full_ref)
    except SourceError as exc:
        raise SourceError(f"component {comp.name}: {exc.message}", comp.location) from None


def _resolve_spec_source(comp: Component) -> SpecSource:
    url = comp.distgit_repo_url
    ref = comp.distgit_ref or "rawhide"
    if url is None:
        raise SourceError(f"component {comp.name}: upstream carries no {comp.name}.spec and no dist-git is known", comp.location)
    try:
        resolved = gitops.resolve(url, ref)
    except SourceError as exc:
        raise SourceError(
            f"component {comp.name}: upstream carries no {comp.name}.spec, and its dist-git fallback failed: {exc.message}",
            comp.location,
        ) from None
    return SpecSource(url, ref, resolved.commit)


@dataclass(frozen=True)
class Drift:
    """A locked ref that has moved on its remote since the lock was written (``now`` None: it is gone)."""

    name: str
    ref: str
    locked: str
    now: Optional[str]

    def describe(self) -> str:
        if self.now is None:
            return f"{self.name} {self.ref} no longer exists on its remote; building the locked commit {self.locked[:7]}"
        return (f"{self.name} {self.ref} moved {self.locked[:7]} \u2192 {self.now[:7]}; building the locked commit; "
                "'stream-build lock' to update")


def drift(lock: Lock, jobs: int = 8) -> Tuple[List[Drift], List[str]]:
    """Which locked branches and tags have moved on their remotes (one ``ls-remote`` per repository).

    Returns the drifts, and the repositories that could not be asked (offline is not an error:
    the lock is what is built).
    """
    moving = [c for c in lock.components if c.resolved.startswith(("refs/heads/", "refs/tags/"))]
    urls = sorted({c.url for c in moving})
    answers: Dict[str, Dict[str, str]] = {}
    unreachable: List[str] = []

    def ask(url: str) -> Tuple[str, Optional[Dict[str, str]], str]:
        try:
            return url, gitops.ls_remote(url), ""
        except SourceError as exc:
            return url, None, exc.message

    with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(urls) or 1))) as pool:
        for url, refs, why in pool.map(ask, urls):
            if refs is None:
                unreachable.append(f"{url}: {why}")
            else:
                answers[url] = refs
    found = []
    for comp in moving:
        refs = answers.get(comp.url)
        if refs is None:
            continue
        now = refs.get(comp.resolved)
        if now != comp.commit:
            found.append(Drift(comp.name, comp.ref, comp.commit, now))
    return found, unreachable


def changes(old: Optional[Lock], new: Lock) -> List[str]:
    """What a re-resolved lock changed, one line per component: ``tinytorch release-2.11 aeb4e27 \u2192 6b1a4a8``."""
    before = {c.name: c for c in old.components} if old is not None else {}
    lines = []
    for comp in new.components:
        prior = before.pop(comp.name, None)
        if prior is None:
            lines.append(f"{comp.name} {comp.ref} locked at {comp.commit[:7]}")
        elif prior.commit != comp.commit or prior.ref != comp.ref:
            ref = comp.ref if prior.ref == comp.ref else f"{prior.ref} \u2192 {comp.ref}"
            lines.append(f"{comp.name} {ref} {prior.commit[:7]} \u2192 {comp.commit[:7]}")
    lines += [f"{name} removed" for name in before]
    return lines
