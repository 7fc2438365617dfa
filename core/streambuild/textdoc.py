"""Documents read from files, YAML manifests and JSON locks: their data, where every value stands,
how large they may be, and the text checks both formats share (:mod:`streambuild.yamldoc`,
:mod:`streambuild.jsondoc` read them). Nothing here needs a parser, so a command that reads its
manifest from :mod:`streambuild.manifestcache` loads no YAML code at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Dict, Tuple, Type, Union

from .errors import Location, ManifestError, StreamBuildError

PathKey = Tuple[Union[str, int], ...]
Marks = Dict[PathKey, Tuple[int, int]]


@dataclass(frozen=True)
class Limits:
    """How large a document may be. The defaults are far above any real stream's manifest
    (the whole of Fedora, 20,000 components in long form, is under 3 MiB and 200,000 values)."""

    max_bytes: int = 16 * 1024 * 1024
    max_depth: int = 64
    max_nodes: int = 1_000_000


DEFAULT_LIMITS = Limits()


@dataclass
class Document:
    """A loaded document (YAML or JSON) and the location of every value in it, by path."""

    path: str
    data: Any
    marks: Marks = field(default_factory=dict)

    def where(self, key: PathKey) -> Location:
        """The location of the value at ``key`` or, failing that, of its nearest parent."""
        while key not in self.marks and key:
            key = key[:-1]
        line, column = self.marks.get(key, (1, 1))
        return Location(self.path, line, column)

    def where_key(self, key: PathKey) -> Location:
        """The location of a mapping key (rather than its value)."""
        mark = self.marks.get(key + ("<key>",))
        if mark is None:
            return self.where(key)
        return Location(self.path, mark[0], mark[1])


# What YAML itself refuses (PyYAML's Reader.NON_PRINTABLE), plus NEL and the Unicode line and
# paragraph separators, which YAML counts as line breaks but editors and error messages do not.
# Written as the ranges refused, not as the complement of those allowed: a negated class with astral
# ranges takes milliseconds to compile, on every command.
FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff\ufffe\uffff]")
_BREAK = re.compile("\r\n|\r|\n")


def position(text: str, index: int) -> Tuple[int, int]:
    """1-based line and column (in characters) of ``text[index]``, counting line breaks as YAML does."""
    line, start = 1, 0
    for match in _BREAK.finditer(text, 0, index):
        line, start = line + 1, match.end()
    return line, index - start + 1


def decode(data: bytes, path: str, error: Type[StreamBuildError] = ManifestError) -> str:
    """``data`` as UTF-8 text (a leading byte-order mark dropped); an invalid byte is a located error."""
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        prefix = data[: exc.start].decode("utf-8")
        line, column = position(prefix, len(prefix))
        raise error(
            f"not valid UTF-8: byte 0x{data[exc.start]:02x} ({exc.reason})", Location(path, line, column)
        ) from None


def check_text(text: str, path: str, error: Type[StreamBuildError] = ManifestError) -> None:
    """Refuse control characters, NUL, lone surrogates and Unicode line separators, at their place."""
    match = FORBIDDEN.search(text)
    if match:
        line, column = position(text, match.start())
        char = match.group()
        raise error(f"character U+{ord(char):04X} is not allowed (control characters, NUL and line "
                    "separators other than newlines cannot appear in the file)", Location(path, line, column))


def check_size(size: int, path: str, limits: Limits = DEFAULT_LIMITS) -> None:
    """Refuse a document of more than ``limits.max_bytes`` bytes."""
    if size > limits.max_bytes:
        raise ManifestError(f"the file is {size} bytes, more than the {limits.max_bytes} allowed", Location(path, 1, 1))
