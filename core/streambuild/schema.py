"""The manifest's JSON Schema, and a small validator that reports errors with file positions.

The schema is the single description of the manifest's shape: ``stream-build schema``
prints it, and :func:`validate` checks documents against it (the subset of JSON
Schema used here), naming the file, line and column of every problem, each with a
"did you mean" for a near miss (``pakages:`` → ``packages``, ``dist-gti`` → ``dist-git``).
"""

from __future__ import annotations

import difflib
import re
from typing import Any, Dict, List, Optional, Sequence

from .errors import ManifestError, ManifestErrors
from .textdoc import Document, PathKey

_NAME_REF = r"^[^:]+:.+$"
_MACROS = {
    "type": "object",
    "description": "rpm macros defined for the build (overriding macros needs approval by policy)",
    "additionalProperties": {"type": ["string", "integer", "number", "boolean"]},
}

COMPONENT_LONG: Dict[str, Any] = {
    "type": "object",
    "description": "A component in long form.",
    "required": ["name", "ref"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "description": "source package (dist-git repository) name"},
        "ref": {"type": "string", "description": "branch, tag or full commit id"},
        "buildonly": {"type": "boolean", "description": "used to build others; never published or installed"},
        "replaces": {"type": "boolean", "description": "ships binary RPMs of the same name as the base's"},
        "spec": {"type": "string", "description": "path of the spec file in the repository"},
        "macros": _MACROS,
        "version": {"type": "string", "description": "git sources: version to build (default: from the ref)"},
        "distgit_ref": {
            "type": "string",
            "description": "git sources without a spec: dist-git branch to take the spec from (default: rawhide)",
        },
    },
}

COMPONENT: Dict[str, Any] = {
    "oneOf": [
        {"type": "string", "pattern": _NAME_REF, "description": "short form 'name:ref'"},
        COMPONENT_LONG,
    ]
}

SOURCE: Dict[str, Any] = {
    "type": "object",
    "required": ["type", "url", "packages"],
    "additionalProperties": False,
    "properties": {
        "type": {"enum": ["dist-git", "git"]},
        "url": {"type": "string", "description": "base URL; '<url><name>.git' is the repository (.git optional for git)"},
        "lookaside": {"type": "string", "description": "dist-git only: lookaside cache base URL"},
        "packages": {"type": "array", "minItems": 1, "items": COMPONENT},
    },
}

INSTALL: Dict[str, Any] = {
    "type": "object",
    "required": ["type", "packages"],
    "additionalProperties": False,
    "properties": {
        "type": {"enum": ["host", "installroot", "container"]},
        "packages": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "path": {"type": "string", "description": "installroot only: the directory to install into"},
        "base_image": {"type": "string", "description": "container only"},
        "tag": {"type": "string", "description": "container only: image name and tag"},
        "registry": {"type": "string", "description": "container only: registry (and namespace) to push to"},
    },
}

MANIFEST_SCHEMA: Dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://pagure.io/stream-build/manifest.schema.json",
    "title": "stream-build manifest",
    "type": "object",
    "required": ["base", "build"],
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "description": "name of the stream set (default: the manifest's file name)"},
        "base": {"type": "string", "description": "base distribution, like fedora-44-x86_64"},
        "macros": _MACROS,
        "base_repos": {
            "type": "array",
            "items": {"type": "string"},
            "description": "repositories of the base (http, https, file URLs): for breaking cycles and runtime dependencies",
        },
        "build": {"type": "array", "minItems": 1, "items": SOURCE},
        "install": INSTALL,
    },
}

_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": (int, float),
}


def _type_ok(value: Any, name: str) -> bool:
    if name in ("integer", "number") and isinstance(value, bool):
        return False
    kinds: Any = _TYPES[name]  # a type or a tuple of types
    return isinstance(value, kinds)


def _types(schema: Dict[str, Any]) -> List[str]:
    kind = schema.get("type", [])
    return [kind] if isinstance(kind, str) else list(kind)


def _show(key: PathKey) -> str:
    text = ""
    for part in key:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the document"


def suggestion(word: Any, choices: Sequence[str]) -> Optional[str]:
    """The choice ``word`` was most likely meant to be (a typo, a swapped letter), or None."""
    if not isinstance(word, str):
        return None
    close = difflib.get_close_matches(word, [str(c) for c in choices], n=1, cutoff=0.7)
    return close[0] if close else None


def _did_you_mean(word: Any, choices: Sequence[str]) -> str:
    near = suggestion(word, choices)
    return f" (did you mean {near!r}?)" if near else ""


def problems(doc: Document, schema: Dict[str, Any] = MANIFEST_SCHEMA) -> List[ManifestError]:
    """Every place where ``doc`` does not follow ``schema``, in document order."""
    found: List[ManifestError] = []
    _check(doc, doc.data, schema, (), found)
    return found


def validate(doc: Document, schema: Dict[str, Any] = MANIFEST_SCHEMA) -> None:
    """Raise :class:`ManifestErrors` naming every place where ``doc`` does not follow ``schema``."""
    found = problems(doc, schema)
    if found:
        raise ManifestErrors(found)


def _check(doc: Document, value: Any, schema: Dict[str, Any], key: PathKey, found: List[ManifestError]) -> None:
    if "oneOf" in schema:
        for option in schema["oneOf"]:
            if any(_type_ok(value, t) for t in _types(option)):
                _check(doc, value, option, key, found)
                return
        expected = " or ".join(t for option in schema["oneOf"] for t in _types(option))
        found.append(ManifestError(f"{_show(key)}: expected {expected}, found {_kind(value)}", doc.where(key)))
        return
    kinds = _types(schema)
    if kinds and not any(_type_ok(value, t) for t in kinds):
        found.append(ManifestError(f"{_show(key)}: expected {' or '.join(kinds)}, found {_kind(value)}", doc.where(key)))
        return
    if "enum" in schema and value not in schema["enum"]:
        choices = ", ".join(repr(c) for c in schema["enum"])
        found.append(ManifestError(f"{_show(key)}: {value!r} is not one of {choices}"
                                   f"{_did_you_mean(value, schema['enum'])}", doc.where(key)))
    if "pattern" in schema and not re.match(schema["pattern"], value):
        found.append(ManifestError(f"{_show(key)}: {value!r} is not {schema.get('description', schema['pattern'])}",
                                   doc.where(key)))
    if isinstance(value, dict):
        _check_object(doc, value, schema, key, found)
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            found.append(ManifestError(f"{_show(key)}: must have at least {schema['minItems']} item(s)", doc.where(key)))
        for index, item in enumerate(value):
            _check(doc, item, schema.get("items", {}), key + (index,), found)


def _check_object(doc: Document, value: Dict[str, Any], schema: Dict[str, Any], key: PathKey,
                  found: List[ManifestError]) -> None:
    props = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    missing = [name for name in schema.get("required", []) if name not in value]
    unknown = [name for name in value if name not in props] if extra is False else []
    meant = {name: suggestion(name, [p for p in props if p not in value]) for name in unknown}
    for name in missing:
        if name not in meant.values():  # else said with the unknown key that was meant to be it
            found.append(ManifestError(f"{_show(key)}: missing required key {name!r}", doc.where(key)))
    for name, item in value.items():
        if name in props:
            _check(doc, item, props[name], key + (name,), found)
        elif extra is False:
            near = meant.get(name)
            hint = f" (did you mean {near!r}?{' it is required' if near in missing else ''})" if near else ""
            found.append(ManifestError(f"{_show(key)}: unknown key {name!r}{hint} (expected one of: {', '.join(props)})",
                                       doc.where_key(key + (name,))))
        elif isinstance(extra, dict):
            _check(doc, item, extra, key + (name,), found)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    for name in ("boolean", "integer", "number", "string", "array", "object"):
        if _type_ok(value, name):
            return f"{name} {value!r}" if name in ("boolean", "integer", "number", "string") else name
    return type(value).__name__
