"""Checks for the values that reach git, rpm and URLs: package names, refs, macros, URLs, paths.

Values are always passed to tools as data (argument lists, never a shell), but a
value that starts with ``-`` would still be read as an option, and one with
control characters breaks logs and files; such values are refused here, before
anything runs.

Paths are checked too (:func:`check_path`): rpm expands macros in every path it is
given (``--root``, ``--dbpath``, ``_topdir``, the spec file's name), so a path holding
``%`` would run ``%(shell)`` or ``%{lua:...}`` code. Every path that can reach rpm or
rpmbuild is checked where it enters (command-line options, manifest fields, the work
directory), so that backends only ever see clean ones.

Messages that show a URL show it through :func:`redact`, which hides user information
(``https://user:token@host/`` becomes ``https://***@host/``).
"""

from __future__ import annotations

import re
from typing import Any, Dict, Optional, Set, Tuple
from urllib.parse import urlsplit

from .errors import Location, UnsafeValueError
from .redaction import redact as redact  # part of this module's vocabulary

_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._+-]*\Z")
_MACRO_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_FULL_COMMIT = re.compile(r"[0-9a-f]{40}\Z|[0-9a-f]{64}\Z")
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\$`'\"<>|;&(){}!]")
_FILE_NAME = re.compile(r"[A-Za-z0-9_+][A-Za-z0-9._+~-]*\Z")
URL_SCHEMES = ("https", "http", "git", "ssh", "file")
#: Where stream-build downloads files from (lookaside caches, base repositories).
DOWNLOAD_SCHEMES = ("https", "http", "file")
_URL_FORBIDDEN = re.compile("[\x00-\x20\x7f`$\\\\]")  # spaces, control and shell characters


def is_name(value: str) -> bool:
    """Whether ``value`` is a valid package name (see :func:`check_name`)."""
    return isinstance(value, str) and len(value) <= 200 and bool(_NAME.match(value))


def _describe(value: str) -> str:
    return repr(redact(value))


def check_name(value: str, what: str = "package name", where: Optional[Location] = None) -> str:
    """An RPM/dist-git package name: letters, digits and ``._+-``, not starting with ``-`` or ``.``."""
    if not isinstance(value, str) or not value:
        raise UnsafeValueError(f"{what} must be a non-empty string", where)
    if not is_name(value):
        raise UnsafeValueError(
            f"{what} {_describe(value)} is not valid: use letters, digits and '._+-', "
            "not starting with '-' or '.', no '/', spaces or control characters",
            where,
        )
    return value


#: Values already found valid, by check (a manifest and its lock name the same refs and URLs
#: tens of thousands of times); bounded, since a long-lived process may see many.
_VALID: Dict[str, Set[Any]] = {"ref": set(), "url": set()}
_VALID_LIMIT = 1 << 16


def _valid(kind: str, key: Any) -> None:
    known = _VALID[kind]
    if len(known) >= _VALID_LIMIT:
        known.clear()
    known.add(key)


def check_ref(value: str, what: str = "ref", where: Optional[Location] = None) -> str:
    """A git branch, tag or commit name, following git-check-ref-format plus no shell characters."""
    if type(value) is str and value in _VALID["ref"]:
        return value
    if not isinstance(value, str) or not value:
        raise UnsafeValueError(f"{what} must be a non-empty string", where)
    problem = None
    if value.startswith("-"):
        problem = "starts with '-' (it would be read as an option)"
    elif _REF_FORBIDDEN.search(value):
        problem = "contains a space, control or shell character, or one of ~^:?*[\\"
    elif ".." in value or "@{" in value or "//" in value:
        problem = "contains '..', '@{' or '//'"
    elif value.startswith("/") or value.endswith("/") or value.endswith("."):
        problem = "starts or ends with '/', or ends with '.'"
    elif value.endswith(".lock") or "/." in value or value.startswith(".") or value == "@":
        problem = "has a component starting with '.' or ending with '.lock'"
    elif len(value) > 255:
        problem = "is longer than 255 characters"
    if problem:
        raise UnsafeValueError(f"{what} {_describe(value)} is not a valid git ref: it {problem}", where)
    _valid("ref", value)
    return value


def is_full_commit(value: str) -> bool:
    return bool(_FULL_COMMIT.match(value))


def check_commit(value: str, what: str = "commit", where: Optional[Location] = None) -> str:
    if not isinstance(value, str) or not is_full_commit(value):
        raise UnsafeValueError(f"{what} {_describe(value)} is not a full commit id (40 or 64 hex digits)", where)
    return value


def check_macro_name(value: str, where: Optional[Location] = None) -> str:
    if not isinstance(value, str) or not _MACRO_NAME.match(value):
        raise UnsafeValueError(f"macro name {_describe(value)} is not valid: use letters, digits and '_'", where)
    return value


def check_macro_value(name: str, value: str, where: Optional[Location] = None) -> str:
    if any(ch in value for ch in "\n\r\x00"):
        raise UnsafeValueError(f"value of macro {name!r} must be one line", where)
    return value


def check_file_name(value: str, what: str = "file name", where: Optional[Location] = None) -> str:
    """A plain file name (no directories), as in a dist-git ``sources`` file."""
    if not isinstance(value, str) or not _FILE_NAME.match(value) or len(value) > 255:
        raise UnsafeValueError(f"{what} {_describe(value)} is not a plain file name", where)
    return value


def check_relative_path(value: str, what: str = "path", where: Optional[Location] = None) -> str:
    """A relative path inside a repository: no '..', not absolute, no control characters."""
    parts = value.split("/") if isinstance(value, str) else []
    if (
        not parts
        or value.startswith("/")
        or any(p in ("", ".", "..") for p in parts)
        or any(not _FILE_NAME.match(p) for p in parts)
    ):
        raise UnsafeValueError(f"{what} {_describe(value)} must be a relative path inside the repository", where)
    return value


def check_url(value: str, what: str = "URL", where: Optional[Location] = None, schemes: Tuple[str, ...] = URL_SCHEMES) -> str:
    """A repository or lookaside URL with an allowed scheme (never ``ext::`` or an option)."""
    if type(value) is str and (value, schemes) in _VALID["url"]:
        return value
    if not isinstance(value, str) or not value:
        raise UnsafeValueError(f"{what} must be a non-empty string", where)
    if value.startswith("-") or _URL_FORBIDDEN.search(value):
        raise UnsafeValueError(f"{what} {_describe(value)} contains spaces, control or shell characters", where)
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:  # "Invalid IPv6 URL", "Port out of range"
        raise UnsafeValueError(f"{what} {_describe(value)} is not a valid URL: {exc}", where) from None
    if parts.scheme not in schemes:
        raise UnsafeValueError(
            f"{what} {_describe(value)} must use one of the schemes {', '.join(schemes)}", where
        )
    if parts.scheme == "file":
        if not parts.path.startswith("/") or parts.netloc not in ("", "localhost"):
            raise UnsafeValueError(f"{what} {_describe(value)} must be an absolute file:// URL", where)
        _valid("url", (value, schemes))
        return value
    host = parts.netloc.rpartition("@")[2]
    if not parts.hostname or host.startswith(":"):
        raise UnsafeValueError(f"{what} {_describe(value)} has no host", where)
    if host.startswith("-") or parts.hostname.startswith("-"):
        raise UnsafeValueError(
            f"{what} {_describe(value)} has a host starting with '-' (ssh would read it as an option)", where
        )
    if port == 0:
        raise UnsafeValueError(f"{what} {_describe(value)} has port 0", where)
    if parts.username is not None and parts.username.startswith("-"):
        raise UnsafeValueError(f"{what} {_describe(value)} has a user name starting with '-'", where)
    _valid("url", (value, schemes))
    return value


def as_base_url(value: str) -> str:
    """A base URL that names are appended to always ends with '/'."""
    return value if value.endswith("/") else value + "/"


#: Characters refused in paths given to rpm and rpmbuild (see :func:`check_path`).
_PATH_FORBIDDEN = re.compile(r"[%\x00-\x1f\x7f]")


def check_path(value: object, what: str = "path", where: Optional[Location] = None) -> str:
    """A file-system path that can be handed to rpm, rpmbuild or DNF as data.

    rpm expands macros in the paths it is given, so a path holding ``%`` would run
    ``%(...)`` (a shell) or ``%{lua:...}`` code, and a control character would end
    a ``--define``. Such paths are refused, naming ``what`` (``--installroot``,
    ``install.path``, ``work directory``) and ``where``. This is the one check for
    every path that can reach rpm: apply it where a path enters (an option, a
    manifest field, the work directory), so that what is built from it is clean.
    """
    if not isinstance(value, str) or not value:
        raise UnsafeValueError(f"{what} must be a non-empty path", where)
    match = _PATH_FORBIDDEN.search(value)
    if match:
        problem = (
            "holds '%', which rpm would expand as a macro (running %(...) or %{lua:...} code)"
            if match.group() == "%"
            else "holds a control character"
        )
        raise UnsafeValueError(f"{what} {_describe(value)} {problem}; choose a path without it", where)
    return value
