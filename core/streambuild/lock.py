"""The lock file (``stream-build.lock``): every component's ref resolved to a full commit.

A stream is always built from commits, never from moving branch heads. The lock is
JSON written deterministically (sorted keys, components in manifest order) so that
it diffs well and can be committed beside the manifest.
"""

from __future__ import annotations

import os
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, List, Mapping, Optional, Tuple

from . import gitops, jsondoc, values
from .base import parse_base
from .errors import InputError, LockError, Location, SourceError
from .manifest import Component, Manifest
from .workdir import write_json
from .textdoc import Document, PathKey

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

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", {c.name: c for c in reversed(self.components)})  # the first wins

    def component(self, name: str) -> LockedComponent:
        return self._index[name]  # type: ignore[attr-defined,no-any-return]

    def to_json(self) -> Dict[str, Any]:
        return {
            "version": LOCK_VERSION,
            "base": self.base,
            "components": [
                {k: v for k, v in asdict(c).items() if v is not None} for c in self.components
            ],
        }


_TOP_KEYS = ("version", "base", "components")
_COMPONENT_KEYS = ("name", "type", "url", "ref", "resolved", "commit", "spec_source")
_REQUIRED_COMPONENT_KEYS = _COMPONENT_KEYS[:-1]
_SPEC_SOURCE_KEYS = ("url", "ref", "commit")


def read_lock(path: str) -> Lock:
    """Read and validate a lock file, field by field.

    Every problem is a :class:`LockError` naming the file, line and column: invalid
    JSON or UTF-8, unknown or missing keys, duplicate keys or components, a version
    that is not the integer 1, names, URLs, refs and commits that fail their checks,
    and a ``resolved`` ref that is not what the ref resolves to
    (``refs/heads/<ref>``, ``refs/tags/<ref>`` or the ref itself).
    """
    try:
        with open(path, "rb") as handle:
            raw = handle.read(jsondoc.Limits().max_bytes + 1)
    except FileNotFoundError:
        raise LockError("lock file not found (run 'stream-build lock' first)", Location(path)) from None
    except OSError as exc:
        raise LockError(f"cannot read lock file: {exc.strerror or exc}", Location(path)) from None
    data = jsondoc.quick(raw)
    if data is not None:
        try:
            return _validate(Document(path, data))
        except LockError:
            pass  # to be located: read again with the place of every value
    return _validate(jsondoc.load_bytes(raw, path, LockError))


def _validate(doc: Document) -> Lock:
    data = doc.data
    if not isinstance(data, dict):
        raise LockError(f"not a stream-build lock: expected an object, found {_kind(data)}", doc.where(()))
    _known_keys(doc, data, (), _TOP_KEYS)
    for name in _TOP_KEYS:
        if name not in data:
            raise LockError(f"not a stream-build lock: missing {name!r}", doc.where(()))
    version = data["version"]
    if type(version) is not int or version != LOCK_VERSION:
        raise LockError(f"version must be the integer {LOCK_VERSION}, found {_kind(version)} (a lock written by "
                        "another version of stream-build: run 'stream-build lock')", doc.where(("version",)))
    base = _string(doc, data, ("base",))
    try:
        parse_base(base, doc.where(("base",)))
    except InputError as exc:
        raise LockError(exc.message, exc.location) from None
    if not isinstance(data["components"], list):
        raise LockError(f"components must be a list, found {_kind(data['components'])}", doc.where(("components",)))
    comps: List[LockedComponent] = []
    seen: Dict[str, Location] = {}
    for index, raw_comp in enumerate(data["components"]):
        comp = _locked_component(doc, raw_comp, ("components", index))
        if comp.name in seen:
            raise LockError(f"component {comp.name!r} is locked twice (first at {seen[comp.name]})",
                            doc.where(("components", index, "name")))
        seen[comp.name] = doc.where(("components", index))
        comps.append(comp)
    return Lock(base, tuple(comps))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"number {value!r}"
    if isinstance(value, str):
        return f"string {values.redact(value)[:60]!r}"
    return "a list" if isinstance(value, list) else "an object"


def _known_keys(doc: Document, data: Dict[str, Any], key: PathKey, known: Tuple[str, ...]) -> None:
    for name in data:
        if name not in known:
            raise LockError(f"unknown key {name!r} (expected {', '.join(known)})", doc.where_key(key + (name,)))


def _string(doc: Document, data: Dict[str, Any], key: PathKey) -> str:
    value = data.get(str(key[-1]))
    if not isinstance(value, str):
        raise LockError(f"{_show(key)} must be a string, found {_kind(value)}", doc.where(key))
    return value


def _show(key: PathKey) -> str:
    return "".join(f"[{k}]" if isinstance(k, int) else (f".{k}" if i else str(k)) for i, k in enumerate(key))


def _locked_component(doc: Document, raw: Any, key: PathKey) -> LockedComponent:
    if not isinstance(raw, dict):
        raise LockError(f"{_show(key)} must be an object, found {_kind(raw)}", doc.where(key))
    _known_keys(doc, raw, key, _COMPONENT_KEYS)
    for name in _COMPONENT_KEYS[:-1]:
        if name not in raw:
            raise LockError(f"{_show(key)}: missing {name!r}", doc.where(key))
    fields = {name: raw[name] for name in _REQUIRED_COMPONENT_KEYS}
    if not all(type(value) is str for value in fields.values()):  # say which, and where
        fields = {name: _string(doc, raw, key + (name,)) for name in _REQUIRED_COMPONENT_KEYS}
    name = fields["name"]

    def checked(check: Callable[..., str], field: str, *args: Any) -> str:
        try:
            return check(fields[field], *args, None)  # the place is looked up only for an error
        except InputError:
            try:
                return check(fields[field], *args, doc.where(key + (field,)))
            except InputError as exc:
                raise LockError(exc.message, exc.location) from None

    checked(values.check_name, "name", "name")
    if fields["type"] not in ("dist-git", "git"):
        raise LockError(f"type of {name} must be 'dist-git' or 'git', found {_kind(fields['type'])}",
                        doc.where(key + ("type",)))
    checked(values.check_url, "url", f"url of {name}")
    ref = checked(values.check_ref, "ref", f"ref of {name}")
    resolved = checked(values.check_ref, "resolved", f"resolved ref of {name}")
    if resolved not in (f"refs/heads/{ref}", f"refs/tags/{ref}", ref):
        raise LockError(f"resolved ref of {name} is {resolved!r}, but ref {ref!r} resolves to refs/heads/{ref}, "
                        f"refs/tags/{ref} or itself", doc.where(key + ("resolved",)))
    checked(values.check_commit, "commit", f"commit of {name}")
    spec_source = None
    if "spec_source" in raw:
        spec_source = _spec_source(doc, raw["spec_source"], key + ("spec_source",), name)
    return LockedComponent(name, fields["type"], fields["url"], ref, resolved, fields["commit"], spec_source)


def _spec_source(doc: Document, raw: Any, key: PathKey, name: str) -> SpecSource:
    if not isinstance(raw, dict):
        raise LockError(f"spec_source of {name} must be an object, found {_kind(raw)}", doc.where(key))
    _known_keys(doc, raw, key, _SPEC_SOURCE_KEYS)
    fields = {}
    for field, check in (("url", values.check_url), ("ref", values.check_ref), ("commit", values.check_commit)):
        if field not in raw:
            raise LockError(f"spec_source of {name}: missing {field!r}", doc.where(key))
        try:
            fields[field] = check(_string(doc, raw, key + (field,)), f"spec_source {field} of {name}",
                                  doc.where(key + (field,)))
        except LockError:
            raise
        except InputError as exc:
            raise LockError(exc.message, exc.location) from None
    return SpecSource(fields["url"], fields["ref"], fields["commit"])


def read_existing(path: str, replace_corrupt: bool = False) -> Optional[Lock]:
    """The lock at ``path``, or None when there is none.

    A lock that cannot be read is a :class:`LockError`, unless ``replace_corrupt``
    (``stream-build lock``, which writes a new one): then the unreadable file is
    renamed to ``<path>.corrupt`` (``.corrupt.1``, … if taken), the renaming is
    reported on standard error with what was wrong, and None is returned.
    """
    if not os.path.lexists(path):
        return None
    try:
        return read_lock(path)
    except LockError as exc:
        if not replace_corrupt:
            raise LockError(f"{exc.message} (run 'stream-build lock' to write a new lock; it keeps this one "
                            f"as {os.path.basename(path)}.corrupt)", exc.location) from None
        aside = set_aside(path)
        sys.stderr.write(f"stream-build: warning: {values.redact(str(exc))}\n"
                         f"stream-build: warning: kept the unreadable lock as {aside}; writing a new one\n")
        return None


def set_aside(path: str) -> str:
    """Rename ``path`` to the first free ``<path>.corrupt[.N]``; return the new name."""
    for number in range(1000):
        aside = f"{path}.corrupt" + (f".{number}" if number else "")
        if not os.path.lexists(aside):
            os.rename(path, aside)
            return aside
    raise LockError(f"cannot keep {path} aside: {path}.corrupt.1 … .999 all exist; remove them")


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
    manifest: Manifest, git_cache: str, previous: Optional[Lock] = None, jobs: int = 8,
    answers: Optional[Dict[str, Dict[str, str]]] = None,
) -> Lock:
    """Resolve every component's ref over git, in parallel.

    Entries of ``previous`` that still match the manifest are kept as they are
    (pass ``None`` to re-resolve everything), without asking any remote. Each remote
    repository is listed once (``git ls-remote``), however many refs are resolved in it;
    a repository on this host is read in place. What the remotes answered is left in
    ``answers`` (URL -> refs), for :func:`drift`.
    """
    keep = {}
    if previous is not None and previous.base == manifest.base.name:
        keep = {c.name: c for c in previous.components}
    listed = _Listings(answers if answers is not None else {})
    locked: List[Optional[LockedComponent]] = []
    todo: List[Tuple[int, Component]] = []
    for comp in manifest.components:
        old = keep.get(comp.name)
        if old is not None and old.ref == comp.ref and old.type == comp.source_type and old.url == comp.repo_url:
            # (the identity() of both, field by field: name, type, url, ref)
            locked.append(old)
        else:
            todo.append((len(locked), comp))
            locked.append(None)
    if todo:
        with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(todo)))) as pool:
            for (index, _comp), entry in zip(todo, pool.map(lambda t: _resolve_component(t[1], git_cache, listed), todo)):
                locked[index] = entry
    return Lock(manifest.base.name, tuple(c for c in locked if c is not None))


class _Listings:
    """``ls-remote`` answers by URL, each remote asked once even when threads ask together."""

    def __init__(self, answers: Dict[str, Dict[str, str]]) -> None:
        self.answers = answers
        self._locks: Dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def resolve(self, url: str, ref: str) -> gitops.ResolvedRef:
        values.check_ref(ref)
        values.check_url(url, "repository URL")
        if url not in self.answers and gitops.local_repository(url) is not None:
            return gitops.resolve(url, ref)  # read in place: nothing to share
        self._list(url)
        return gitops.resolve(url, ref, self.answers[url])

    def _list(self, url: str) -> None:
        with self._guard:
            lock = self._locks.setdefault(url, threading.Lock())
        with lock:
            if url not in self.answers:
                self.answers[url] = gitops.ls_remote(url)

    def ask_ahead(self, url: str) -> None:
        """Ask ``url`` now, in the background, for a :meth:`resolve` that may follow (a failure is
        left for that call to report)."""
        try:
            values.check_url(url, "repository URL")
        except InputError:
            return
        if gitops.local_repository(url) is not None:
            return

        def ask() -> None:
            try:
                self._list(url)
            except SourceError:
                pass

        threading.Thread(target=ask, daemon=True).start()


def _resolve_component(comp: Component, git_cache: str, listed: Optional[_Listings] = None) -> LockedComponent:
    listed = listed or _Listings({})
    if comp.source_type == "git" and not comp.spec and comp.distgit_repo_url:
        listed.ask_ahead(comp.distgit_repo_url)  # while upstream is asked and fetched, in case it has no spec
    try:
        resolved = listed.resolve(comp.repo_url, comp.ref)
    except SourceError as exc:
        raise SourceError(f"component {comp.name}: {exc.message}", comp.location) from None
    spec_source = None
    if comp.source_type == "git":
        git_dir = _fetch(comp, git_cache, comp.repo_url, resolved)
        spec_path = comp.spec or f"{comp.name}.spec"
        if gitops.file_at(git_dir, resolved.commit, spec_path) is None:
            if comp.spec:
                raise SourceError(f"component {comp.name}: {comp.spec} is not in {comp.repo_url} at {comp.ref}", comp.location)
            spec_source = _resolve_spec_source(comp, listed)
    return LockedComponent(comp.name, comp.source_type, comp.repo_url, comp.ref, resolved.full_ref, resolved.commit, spec_source)


def _fetch(comp: Component, git_cache: str, url: str, resolved: gitops.ResolvedRef) -> str:
    try:
        return gitops.fetch_commit(git_cache, url, resolved.commit, resolved.full_ref)
    except SourceError as exc:
        raise SourceError(f"component {comp.name}: {exc.message}", comp.location) from None


def _resolve_spec_source(comp: Component, listed: _Listings) -> SpecSource:
    url = comp.distgit_repo_url
    ref = comp.distgit_ref or "rawhide"
    if url is None:
        raise SourceError(f"component {comp.name}: upstream carries no {comp.name}.spec and no dist-git is known", comp.location)
    try:
        resolved = listed.resolve(url, ref)
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


def drift(lock: Lock, jobs: int = 8, known: Optional[Mapping[str, Mapping[str, str]]] = None
          ) -> Tuple[List[Drift], List[str]]:
    """Which locked branches and tags have moved on their remotes (each repository asked once).

    ``known`` holds what remotes answered already in this run (URL -> refs, as
    :func:`resolve_lock` leaves them): those are not asked again; a repository on this host
    is read in place, any other asked with one ``ls-remote``. Returns the drifts, and the
    repositories that could not be asked (offline is not an error: the lock is what is built).
    """
    moving = [c for c in lock.components if c.resolved.startswith(("refs/heads/", "refs/tags/"))]
    wanted: Dict[str, List[str]] = {}
    for comp in moving:
        wanted.setdefault(comp.url, []).append(comp.resolved)
    answers: Dict[str, Mapping[str, str]] = {url: known[url] for url in wanted if known and url in known}
    unreachable: List[str] = []

    def ask(url: str) -> Tuple[str, Optional[Dict[str, str]], str]:
        try:
            return url, gitops.current_refs(url, wanted[url]), ""
        except SourceError as exc:
            return url, None, exc.message

    asking = sorted(url for url in wanted if url not in answers)
    if asking:
        with ThreadPoolExecutor(max_workers=max(1, min(jobs, len(asking)))) as pool:
            for url, refs, why in pool.map(ask, asking):
                if refs is None:
                    unreachable.append(f"{url}: {why}")
                else:
                    answers[url] = refs
    found = []
    for comp in moving:
        current = answers.get(comp.url)
        if current is None:
            continue
        now = current.get(comp.resolved)
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


# -- which branches hold the locked commits (the policy checks ask) ------------------


def containing_branches(git_cache: str, locked: LockedComponent,
                        known: Optional[Mapping[str, str]] = None) -> Tuple[str, ...]:
    """The branches of the component's repository that contain its locked commit, as the remote has them now.

    A repository on this host is read in place. Of any other, when the locked branch's head is
    still the locked commit (as the remote answered in this run, ``known``, else one
    ``ls-remote``), the branches whose head it is are the answer:
    what the rules decide on (whether any branch holds the commit; a branch ref's own name) is
    the same as with every branch containing it, and no mirror of every branch is fetched.
    Otherwise (a tag, a commit, a branch that moved or was force-pushed) the mirror's branches
    are fetched to match the remote's and asked.
    """
    git_dir = gitops.local_repository(locked.url)
    if git_dir is None:
        if locked.resolved.startswith("refs/heads/"):
            refs = known if known is not None and locked.resolved in known else gitops.ls_remote(locked.url)
            if refs.get(locked.resolved) == locked.commit:
                return tuple(sorted(name[len("refs/heads/"):] for name, oid in refs.items()
                                    if name.startswith("refs/heads/") and oid == locked.commit))
        git_dir = gitops.mirror_path(git_cache, locked.url)
        if not os.path.isdir(git_dir):
            git_dir = gitops.fetch_commit(git_cache, locked.url, locked.commit, locked.resolved)
        gitops.fetch_branches(git_dir, locked.url)
    if not gitops.has_commit(git_dir, locked.commit):
        return ()
    return tuple(sorted(gitops.branches_containing(git_dir, locked.commit)))


def reachability(git_cache: str, lock: Lock, workers: int = 8,
                 known: Optional[Mapping[str, Mapping[str, str]]] = None) -> Dict[str, Tuple[str, ...]]:
    """The branches containing each component's locked commit (see :func:`containing_branches`)."""
    answered = known or {}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(lock.components) or 1))) as pool:
        found = pool.map(lambda c: (c.name, containing_branches(git_cache, c, answered.get(c.url))), lock.components)
        return dict(found)
