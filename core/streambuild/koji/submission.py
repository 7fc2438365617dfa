"""What a client submits to ``streambuild.submit(lock, target, opts)``, validated field by field.

A :class:`Submission` is the lock (every component at a full commit, from an allowed SCM
host) plus what the manifest says of each component (flags, binary package names, the
components it needs, its expected build time) and of the set (macros, install packages),
with the idempotency key. The same structure travels in the ``streamBuild`` task's
request, so the builder validates what it runs exactly as the hub validated what it
accepted.

Everything here arrives over XML-RPC from anyone who can log in: every value is checked
for its type and shape, and a malformed one is an :class:`~streambuild.errors.InputError`
(Koji's ``ParameterError``) naming the field, never a ``TypeError`` or ``ValueError``.
URLs (SCM, ``spec_source``, per-component ``lookaside``) are held to the hub's SCM host,
port and scheme allow-list (:meth:`~.settings.HubSettings.check_source_url`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Dict, FrozenSet, List, Mapping, Optional, Set, Tuple

from .. import policy as policy_mod
from .. import values
from ..base import Base, parse_base
from ..errors import InputError, ManifestError
from ..lock import LOCK_VERSION, Lock, LockedComponent, SpecSource
from ..manifest import Component
from .settings import HubSettings

SUBMISSION_VERSION = 1
_KEY = re.compile(r"[0-9a-f]{32,64}\Z")



@dataclass(frozen=True)
class SubmittedComponent:
    """One component: its lock entry plus what the manifest says of it."""

    locked: LockedComponent
    buildonly: bool = False
    replaces: bool = False
    macros: Tuple[Tuple[str, str], ...] = ()
    spec: Optional[str] = None
    version: Optional[str] = None
    lookaside: Optional[str] = None
    packages: Tuple[str, ...] = ()  # binary package names (the client's analysis)
    after: Tuple[str, ...] = ()  # components it needs (the client's plan)
    duration: Optional[float] = None  # expected build seconds (the client's estimate, for priorities)

    @property
    def name(self) -> str:
        return self.locked.name

    def options(self) -> Dict[str, Any]:
        data: Dict[str, Any] = {"buildonly": self.buildonly, "replaces": self.replaces,
                                "macros": dict(self.macros), "packages": list(self.packages),
                                "after": list(self.after)}
        for key in ("spec", "version", "lookaside", "duration"):
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data

    def policy_component(self) -> policy_mod.PolicyComponent:
        c = self.locked
        return policy_mod.PolicyComponent(c.name, c.type, c.url, c.ref, c.commit, c.resolved, self.buildonly,
                                          self.replaces, self.macros, self.packages)

    def manifest_component(self) -> Component:
        """The :class:`~streambuild.manifest.Component` a builder prepares sources from."""
        c = self.locked
        suffix = ".git" if c.type == "dist-git" else ""
        tail = f"{c.name}{suffix}"
        base_url = c.url[: -len(tail)] if c.url.endswith(tail) else c.url.rsplit("/", 1)[0] + "/"
        distgit_url = distgit_ref = None
        if c.spec_source is not None:
            distgit_url = c.spec_source.url[: -len(f"{c.name}.git")]
            distgit_ref = c.spec_source.ref
        return Component(c.name, c.ref, c.type, base_url, self.buildonly, self.replaces, self.spec, self.macros,
                         self.version, self.lookaside, distgit_url, distgit_ref)


@dataclass(frozen=True)
class Submission:
    """A stream set as submitted to the hub: validated, ready for policy and the builder."""

    stream: str
    base: Base
    key: str
    components: Tuple[SubmittedComponent, ...]
    macros: Tuple[Tuple[str, str], ...] = ()
    install: Tuple[str, ...] = ()

    @property
    def lock(self) -> Lock:
        return Lock(self.base.name, tuple(c.locked for c in self.components))

    def component(self, name: str) -> SubmittedComponent:
        for comp in self.components:
            if comp.name == name:
                return comp
        raise KeyError(name)

    @property
    def dependencies(self) -> Dict[str, Tuple[str, ...]]:
        return {c.name: c.after for c in self.components}

    def options(self) -> Dict[str, Any]:
        """The ``opts`` of ``streambuild.submit(lock, target, opts)``."""
        return {"version": SUBMISSION_VERSION, "idempotency_key": self.key, "stream": self.stream,
                "scratch": True, "macros": dict(self.macros), "install": list(self.install),
                "components": {c.name: c.options() for c in self.components}}

    def to_request(self, tag: str, parent_target: str) -> Dict[str, Any]:
        """The single argument of the ``streamBuild`` task (the stream tag is also its target's name)."""
        return {"lock": self.lock.to_json(), "opts": self.options(), "tag": tag, "target": tag,
                "parent_target": parent_target}

    def policy_input(self, user: Optional[str], base_packages: Optional[FrozenSet[str]],
                     settings: HubSettings, commit_rights: Optional[policy_mod.CommitRights]) -> policy_mod.PolicyInput:
        return policy_mod.PolicyInput(
            self.stream, self.base.name, tuple(c.policy_component() for c in self.components), user, self.macros,
            self.install, base_packages, commit_rights, settings.series_pattern, settings.approved_macros,
        )


def parse_submission(lock: Any, opts: Any, settings: HubSettings) -> Submission:
    """Validate ``submit(lock, target, opts)``'s arguments into a :class:`Submission`."""
    parsed = parse_lock(lock, settings)
    if not isinstance(opts, Mapping):
        raise InputError("opts must be a struct (the stream's options and idempotency_key)")
    unknown = set(opts) - {"version", "idempotency_key", "stream", "scratch", "macros", "install", "components"}
    if unknown:
        raise InputError(f"opts: unknown keys {', '.join(sorted(map(str, unknown)))}")
    if not all(isinstance(k, str) for k in opts):
        raise InputError("opts: keys must be strings")
    if opts.get("version", SUBMISSION_VERSION) != SUBMISSION_VERSION:
        raise InputError(f"opts: version {opts.get('version')!r} is not supported (this hub speaks {SUBMISSION_VERSION})")
    if opts.get("scratch", True) is not True:
        raise InputError("opts: stream builds are scratch builds (scratch must be true)")
    key = opts.get("idempotency_key")
    if not isinstance(key, str) or not _KEY.match(key):
        raise InputError("opts: idempotency_key must be 32 to 64 lowercase hex digits")
    stream = _check(values.check_name, opts.get("stream"), "opts.stream")
    macros = _macros(opts.get("macros") or {}, "opts.macros")
    install = tuple(_check(values.check_name, p, "opts.install") for p in _list(opts.get("install") or [], "opts.install"))
    raw = opts.get("components")
    if not isinstance(raw, Mapping):
        raise InputError("opts.components must map every component of the lock to its options")
    if not all(isinstance(k, str) for k in raw):
        raise InputError("opts.components: keys must be component names")
    names = [c.name for c in parsed.components]
    missing = [n for n in names if n not in raw]
    extra = sorted(set(raw) - set(names))
    if missing or extra:
        raise InputError("opts.components does not match the lock: "
                         + "; ".join(filter(None, [f"missing {', '.join(missing)}" if missing else "",
                                                    f"not in the lock: {', '.join(extra)}" if extra else ""])))
    comps = tuple(_submitted(c, raw[c.name], set(names), settings) for c in parsed.components)
    submission = Submission(stream, parse_base(parsed.base), key, comps, macros, install)
    _check_acyclic(submission)
    return submission


def parse_lock(data: Any, settings: HubSettings) -> Lock:
    """A lock as sent over XML-RPC: schema, full commit ids, allowed SCM hosts."""
    if not isinstance(data, Mapping):
        raise InputError("lock must be a struct (the JSON of a stream-build lock file)")
    if data.get("version") != LOCK_VERSION:
        raise InputError(f"lock: not a stream-build lock of version {LOCK_VERSION}")
    if not all(isinstance(k, str) for k in data):
        raise InputError("lock: keys must be strings")
    unknown = set(data) - {"version", "base", "components"}
    if unknown:
        raise InputError(f"lock: unknown keys {', '.join(sorted(map(str, unknown)))}")
    if not isinstance(data.get("base"), str):
        raise InputError("lock.base must be a base name such as fedora-44-x86_64")
    try:
        base = parse_base(data.get("base"))
    except ManifestError as exc:
        raise InputError(f"lock: {exc.message}") from None
    comps = _list(data.get("components"), "lock.components")
    if not comps:
        raise InputError("lock: no components")
    if len(comps) > settings.max_components:
        raise InputError(f"lock: {len(comps)} components; this hub accepts at most {settings.max_components}")
    seen: Dict[str, int] = {}
    locked = []
    for index, raw in enumerate(comps):
        comp = _locked(raw, index, settings)
        if comp.name in seen:
            raise InputError(f"lock: component {comp.name} is listed twice (components[{seen[comp.name]}] and [{index}])")
        seen[comp.name] = index
        locked.append(comp)
    return Lock(base.name, tuple(locked))


def _locked(raw: Any, index: int, settings: HubSettings) -> LockedComponent:
    where = f"lock.components[{index}]"
    fields = ("name", "type", "url", "ref", "resolved", "commit")
    if not isinstance(raw, Mapping) or any(not isinstance(raw.get(f), str) for f in fields):
        raise InputError(f"{where}: needs string fields {', '.join(fields)}")
    unknown = {str(k) for k in raw} - set(fields) - {"spec_source"}
    if unknown:
        raise InputError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    name = _check(values.check_name, raw["name"], where + ".name")
    where = f"component {name}"
    if raw["type"] not in ("dist-git", "git"):
        raise InputError(f"{where}: type must be 'dist-git' or 'git'")
    url = settings.check_source_url(raw["url"], f"{where}: url")
    ref = _check(values.check_ref, raw["ref"], f"{where}: ref")
    if not values.is_full_commit(raw["commit"]):
        raise InputError(f"{where}: commit {raw['commit']!r} is not a full commit id (40 or 64 hex digits); "
                         "stream builds are of locked commits, never of short ids or branch heads")
    resolved = raw["resolved"]
    if resolved != raw["commit"]:
        _check(values.check_ref, resolved, f"{where}: resolved")
    spec_source = None
    if "spec_source" in raw:
        ss = raw["spec_source"]
        if not isinstance(ss, Mapping) or any(not isinstance(ss.get(f), str) for f in ("url", "ref", "commit")):
            raise InputError(f"{where}: spec_source needs url, ref and commit")
        if not values.is_full_commit(ss["commit"]):
            raise InputError(f"{where}: spec_source commit {ss['commit']!r} is not a full commit id")
        spec_source = SpecSource(settings.check_source_url(ss["url"], f"{where}: spec_source.url"),
                                 _check(values.check_ref, ss["ref"], f"{where}: spec_source.ref"), ss["commit"])
    return LockedComponent(name, raw["type"], url, ref, resolved, raw["commit"], spec_source)


def _submitted(locked: LockedComponent, raw: Any, names: Set[str], settings: HubSettings) -> SubmittedComponent:
    where = f"component {locked.name}"
    if not isinstance(raw, Mapping) or not all(isinstance(k, str) for k in raw):
        raise InputError(f"{where}: options must be a struct")
    allowed = {"buildonly", "replaces", "macros", "spec", "version", "lookaside", "packages", "after", "duration"}
    unknown = set(raw) - allowed
    if unknown:
        raise InputError(f"{where}: unknown options {', '.join(sorted(unknown))}")
    for flag in ("buildonly", "replaces"):
        if not isinstance(raw.get(flag, False), bool):
            raise InputError(f"{where}: {flag} must be a boolean")
    spec = raw.get("spec")
    if spec is not None:
        _check(values.check_relative_path, spec, f"{where}: spec")
    version = raw.get("version")
    if version is not None and (not isinstance(version, str) or not values.is_name(version)):
        raise InputError(f"{where}: version {version!r} is not a valid rpm version")
    lookaside = raw.get("lookaside")
    if lookaside is not None:
        lookaside = values.as_base_url(settings.check_source_url(lookaside, f"{where}: lookaside"))
    packages = tuple(_check(values.check_name, p, f"{where}: packages")
                     for p in _list(raw.get("packages", []), f"{where}: packages"))
    after = tuple(_check(values.check_name, a, f"{where}: after")
                  for a in _list(raw.get("after", []), f"{where}: after"))
    strangers = [a for a in after if a not in names or a == locked.name]
    if strangers:
        raise InputError(f"{where}: after names {', '.join(strangers)}, not other components of the lock")
    duration = raw.get("duration")
    if duration is not None and (isinstance(duration, bool) or not isinstance(duration, (int, float))
                                 or not math.isfinite(duration) or duration < 0):
        raise InputError(f"{where}: duration must be a number of seconds, not {duration!r}")
    return SubmittedComponent(locked, bool(raw.get("buildonly", False)), bool(raw.get("replaces", False)),
                              _macros(raw.get("macros") or {}, f"{where}: macros"), spec, version, lookaside,
                              packages, tuple(sorted(set(after))), float(duration) if duration is not None else None)


def _check_acyclic(submission: Submission) -> None:
    deps = submission.dependencies
    state: Dict[str, int] = {}
    for start in deps:
        stack = [(start, iter(deps[start]))]
        path = [start]
        state[start] = 1
        while stack:
            node, children = stack[-1]
            child = next(children, None)
            if child is None:
                state[node] = 2
                stack.pop()
                path.pop()
            elif state.get(child) == 1:
                cycle = path[path.index(child):] + [child]
                raise InputError(f"the components' 'after' lists form a cycle: {' -> '.join(cycle)}")
            elif state.get(child) is None:
                state[child] = 1
                stack.append((child, iter(deps[child])))
                path.append(child)


def _check(check: Any, value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise InputError(f"{what} must be a string, not {type(value).__name__}")
    try:
        checked: str = check(value, what)
        return checked
    except InputError as exc:
        raise InputError(exc.message) from None
    except (TypeError, ValueError) as exc:  # a checker meeting something it never expected
        raise InputError(f"{what} {value!r} is not valid: {exc}") from None


def _list(value: Any, what: str) -> List[Any]:
    if not isinstance(value, (list, tuple)):
        raise InputError(f"{what} must be an array")
    return list(value)


def _macros(raw: Any, what: str) -> Tuple[Tuple[str, str], ...]:
    if not isinstance(raw, Mapping):
        raise InputError(f"{what} must be a struct of macro names to values")
    out = []
    for name, value in raw.items():
        if not isinstance(name, str) or isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise InputError(f"{what}: {name!r} must name a macro and have a string value")
        try:
            values.check_macro_name(name)
            values.check_macro_value(name, str(value))
        except InputError as exc:
            raise InputError(f"{what}: {exc.message}") from None
        out.append((name, str(value)))
    return tuple(sorted(out))
