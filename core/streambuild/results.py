"""Content-addressed build results.

A result is stored under a key computed from everything that decides its content:
the component's commit and prepared sources, the base, the macros, the backend and
the keys of the results it was built against. An unchanged component therefore
maps to an existing result and is never built again; a changed dependency changes
every dependent's key.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

from .workdir import write_json

#: 2: the local backend builds in a real build root (before: an rpm database of --justdb records),
#: so results made before are not reused.
RESULT_VERSION = 2


def result_key(
    name: str,
    commit: str,
    source_digest: str,
    base: str,
    macros: Sequence[Tuple[str, str]],
    backend: str,
    dependency_keys: Sequence[str],
) -> str:
    data = [RESULT_VERSION, name, commit, source_digest, base, list(macros), backend, sorted(dependency_keys)]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()


def facts_key(name: str, source_digest: str, base: str, macros: Sequence[Tuple[str, str]]) -> str:
    """What decides what a component's RPMs provide: its sources, its base and its macros (not its backend)."""
    data = [RESULT_VERSION, name, source_digest, base, list(macros)]
    return hashlib.sha256(json.dumps(data).encode()).hexdigest()


@dataclass(frozen=True)
class StoredResult:
    name: str
    key: str
    directory: str
    rpms: Tuple[str, ...]
    srpm: Optional[str]
    duration: float

    @property
    def log(self) -> str:
        return os.path.join(self.directory, "build.log")


class ResultStore:
    def __init__(self, root: str) -> None:
        self.root = root

    def directory(self, name: str, key: str) -> str:
        return os.path.join(self.root, name, key)

    def get(self, name: str, key: str) -> Optional[StoredResult]:
        directory = self.directory(name, key)
        try:
            with open(os.path.join(directory, "result.json")) as handle:
                meta = json.load(handle)
        except (OSError, ValueError):
            return None
        rpms = tuple(os.path.join(directory, f) for f in meta.get("rpms", []))
        if not all(os.path.exists(p) for p in rpms):
            return None
        srpm = os.path.join(directory, meta["srpm"]) if meta.get("srpm") else None
        return StoredResult(name, key, directory, rpms, srpm, float(meta.get("duration", 0.0)))

    def put(self, name: str, key: str, staged: str, rpms: Sequence[str], srpm: Optional[str], duration: float) -> StoredResult:
        """Move a staged directory (holding the RPMs and build.log) into place under ``key``."""
        write_json(
            os.path.join(staged, "result.json"),
            {
                "name": name,
                "key": key,
                "rpms": sorted(os.path.basename(p) for p in rpms),
                "srpm": os.path.basename(srpm) if srpm else None,
                "duration": round(duration, 3),
            },
        )
        directory = self.directory(name, key)
        os.makedirs(os.path.dirname(directory), exist_ok=True)
        if os.path.exists(directory):
            shutil.rmtree(directory)
        os.replace(staged, directory)
        stored = self.get(name, key)
        assert stored is not None
        return stored

    def _provides_path(self, name: str, key: str) -> str:
        return os.path.join(self.root, name, f"provides-{key}.json")

    def put_provides(self, name: str, key: str, provides: Mapping[str, Sequence[str]]) -> None:
        """Record the real Provides of a component's binary packages (by :func:`facts_key`)."""
        write_json(self._provides_path(name, key), {name_: list(p) for name_, p in sorted(provides.items())})

    def built_provides(self, name: str, key: str) -> Optional[Dict[str, List[str]]]:
        """What a build with these sources provided, by binary package; ``None`` before the first build."""
        try:
            with open(self._provides_path(name, key)) as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return None
        if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
            return None
        return {str(k): [str(p) for p in v] for k, v in data.items()}

    def last_duration(self, name: str) -> Optional[float]:
        """How long the newest stored build of ``name`` took (a scheduling estimate)."""
        best: Optional[Tuple[float, float]] = None
        try:
            keys = [k for k in os.listdir(os.path.join(self.root, name)) if not k.startswith("provides-")]
        except OSError:
            return None
        for key in keys:
            path = os.path.join(self.root, name, key, "result.json")
            try:
                mtime = os.path.getmtime(path)
                with open(path) as handle:
                    duration = float(json.load(handle).get("duration", 0.0))
            except (OSError, ValueError):
                continue
            if best is None or mtime > best[0]:
                best = (mtime, duration)
        return best[1] if best else None
