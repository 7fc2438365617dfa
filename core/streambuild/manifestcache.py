"""The manifest as last read, kept in the work directory: a command on an unchanged manifest reads no YAML.

It is kept under the digest of the manifest's bytes, its absolute path and the code that reads
manifests (:mod:`streambuild.kept`). Read back, every value that reaches git, rpm, DNF or a shell
passes the same check as when the YAML was read (names, refs, URLs, paths, macros: a forged file
brings in no option and no macro); anything else (another key, a bad shape, a value a check
refuses) is a miss, and the manifest is read from its YAML again, every problem located there.
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any, List, Optional, Tuple

from . import kept, values
from .base import parse_base
from .errors import InputError, Location
from .manifest import Component, InstallSpec, Manifest, manifest_bytes, manifest_from_bytes

FILE = "manifest.json"
VERSION = 1
_READER = ("base.py", "manifest.py", "manifestcache.py", "schema.py", "textdoc.py", "values.py", "yamldoc.py")


def load_manifest(path: str, kept_in: str) -> Manifest:
    """The manifest at ``path`` (:func:`streambuild.manifest.load_manifest`), read from what is kept in the
    work directory ``kept_in`` when its bytes are unchanged, and kept there when it is read from its YAML
    (when that directory exists: a command does not make a work directory to keep it)."""
    data = manifest_bytes(path)
    if not os.path.isdir(kept_in):
        return manifest_from_bytes(data, path)
    cache, key = os.path.join(kept_in, FILE), manifest_key(path, data)
    manifest = load(cache, key, path)
    if manifest is None:
        manifest = manifest_from_bytes(data, path)
        store(cache, key, manifest)
    return manifest


def manifest_key(path: str, data: bytes) -> str:
    """The digest of what a manifest is read from: its bytes, where it is, and the reading code."""
    head = json.dumps([VERSION, kept.code_digest(_READER), os.path.abspath(path)]).encode()
    return hashlib.sha256(head + b"\0" + data).hexdigest()


def store(cache: str, key: str, manifest: Manifest) -> None:
    """Keep ``manifest`` under ``key`` at ``cache`` (never fails the command)."""
    install = manifest.install
    data = {
        "version": VERSION,
        "key": key,
        "name": manifest.name,
        "base": manifest.base.name,
        "macros": [list(m) for m in manifest.macros],
        "install": None if install is None else [install.type, list(install.packages), install.path,
                                                 install.base_image, install.tag, install.registry],
        "base_repos": list(manifest.base_repos),
        "components": [[c.name, c.ref, c.source_type, c.base_url, c.buildonly, c.replaces, c.spec,
                        [list(m) for m in c.macros], c.version, c.lookaside, c.distgit_url, c.distgit_ref,
                        c.location.line if c.location else None, c.location.column if c.location else None]
                       for c in manifest.components],
    }
    kept.keep(cache, json.dumps(data, separators=(",", ":")).encode())


def load(cache: str, key: str, path: str) -> Optional[Manifest]:
    """The manifest at ``path`` kept under ``key`` at ``cache``, its values checked again; else ``None``."""
    try:
        with open(cache, "rb") as handle:
            data = json.loads(handle.read())
        if not isinstance(data, dict) or data.get("version") != VERSION or data.get("key") != key:
            return None
        return _manifest(data, path)
    except (OSError, ValueError, TypeError, KeyError, IndexError, InputError):
        return None


def _optional(value: Any, check: Any, *args: Any) -> Optional[str]:
    return None if value is None else check(value, *args)


def _macros(raw: Any) -> Tuple[Tuple[str, str], ...]:
    out: List[Tuple[str, str]] = []
    for name, value in raw:
        out.append((values.check_macro_name(name), values.check_macro_value(name, value)))
    return tuple(out)


def _flag(value: Any) -> bool:
    if type(value) is not bool:
        raise ValueError("not a boolean")
    return value


def _base_url(value: Any, schemes: Tuple[str, ...] = values.URL_SCHEMES) -> str:
    url = values.check_url(value, "url", None, schemes)
    if url != values.as_base_url(url):
        raise ValueError("a base URL ends with '/'")
    return url


def _component(row: List[Any], path: str) -> Component:
    (name, ref, source_type, base_url, buildonly, replaces, spec, macros, version, lookaside, distgit_url,
     distgit_ref, line, column) = row
    if source_type not in ("dist-git", "git") or (version is not None and not values.is_name(version)):
        raise ValueError("not a component")
    if not (line is None or type(line) is int) or not (column is None or type(column) is int):
        raise ValueError("not a place")
    return Component(
        name=values.check_name(name),
        ref=values.check_ref(ref),
        source_type=source_type,
        base_url=_base_url(base_url),
        buildonly=_flag(buildonly),
        replaces=_flag(replaces),
        spec=_optional(spec, values.check_relative_path),
        macros=_macros(macros),
        version=version,
        lookaside=_optional(lookaside, _base_url, values.DOWNLOAD_SCHEMES),
        distgit_url=_optional(distgit_url, _base_url),
        distgit_ref=_optional(distgit_ref, values.check_ref),
        location=Location(path, line, column) if line is not None else None,
    )


def _manifest(data: Any, path: str) -> Manifest:
    install = None
    if data["install"] is not None:
        kind, packages, target, base_image, tag, registry = data["install"]
        if kind not in ("installroot", "container", "host") or not all(
                v is None or isinstance(v, str) for v in (base_image, tag, registry)):
            raise ValueError("not an install section")
        install = InstallSpec(kind, tuple(values.check_name(p) for p in packages),
                              _optional(target, values.check_path, "install.path"), base_image, tag, registry)
    return Manifest(
        path,
        values.check_name(data["name"], "stream name"),
        parse_base(data["base"]),
        tuple(_component(row, path) for row in data["components"]),
        _macros(data["macros"]),
        install,
        tuple(values.check_url(url, "base_repos entry", None, values.DOWNLOAD_SCHEMES) for url in data["base_repos"]),
    )
