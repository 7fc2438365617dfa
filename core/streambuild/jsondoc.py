"""JSON loading that keeps where every value came from (for the lock file), the twin of :mod:`yamldoc`.

The standard library's parser gives no positions for values, collapses duplicate
keys and recurses (a deeply nested file is a ``RecursionError``). This one is
iterative, refuses duplicate keys, ``NaN``/``Infinity`` and numbers that cannot be
read, bounds depth and size, and reports every problem as the given error class
with file, line and column. Strings are decoded by :mod:`json`'s own scanner.
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import re
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, NoReturn, Optional, Tuple, Type, Union

from .errors import Location, StreamBuildError
from .textdoc import FORBIDDEN, Document, Marks, PathKey, check_text, decode

_WHITESPACE = re.compile(r"[ \t\n\r]*")
#: The JSON string scanner of the standard library (its C one where built), which typeshed does not list.
_scanstring: Callable[[str, int, bool], Tuple[str, int]] = getattr(json.decoder, "scanstring")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_LITERALS = (("true", True), ("false", False), ("null", None))


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 64 * 1024 * 1024
    max_depth: int = 32


def load_bytes(data: bytes, path: str, error: Type[StreamBuildError], limits: Limits = Limits()) -> Document:
    """Parse the JSON document in ``data``; every problem is ``error`` at its file, line and column."""
    if len(data) > limits.max_bytes:
        raise error(f"the file is {len(data)} bytes, more than the {limits.max_bytes} allowed", Location(path, 1, 1))
    text = decode(data, path, error)
    check_text(text, path, error)
    return _Parser(text, path, error, limits).document()


def quick(data: bytes, limits: Limits = Limits()) -> Optional[Any]:
    """``data`` parsed by the standard library's (fast, C) parser when :func:`load_bytes` would
    accept it and build the same value; None when it would not, or might not (then use
    :func:`load_bytes`, which says where and why). For valid files, this is the fast path:
    positions are only needed to report a problem."""
    if len(data) > limits.max_bytes:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if text.startswith("\ufeff") or FORBIDDEN.search(text):
        return None

    def pairs(items: List[Tuple[str, Any]]) -> Dict[str, Any]:
        result = dict(items)
        if len(result) != len(items):
            raise ValueError("duplicate key")
        return result

    def constant(name: str) -> Any:
        raise ValueError(name)

    try:
        value = json.loads(text, object_pairs_hook=pairs, parse_constant=constant)
    except (ValueError, RecursionError):
        return None
    stack = [(value, 0)]
    while stack:  # what the positional parser checks beyond JSON: depth, strings, numbers
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth >= limits.max_depth:
                return None
            children = list(item.items()) if isinstance(item, dict) else [(None, v) for v in item]
            for key, child in children:
                if key is not None and FORBIDDEN.search(key):
                    return None
                stack.append((child, depth + 1))
        elif isinstance(item, str) and FORBIDDEN.search(item):
            return None
        elif isinstance(item, float) and item in (float("inf"), float("-inf")):
            return None
        elif isinstance(item, int) and not isinstance(item, bool) and abs(item) >= 10 ** 100:
            return None
    return value


@dataclass
class _Open:
    value: Union[Dict[str, Any], List[Any]]
    key: PathKey
    pending: Optional[str] = None


class _Parser:
    def __init__(self, text: str, path: str, error: Type[StreamBuildError], limits: Limits) -> None:
        self.text = text
        self.path = path
        self.error = error
        self.limits = limits
        self.marks: Marks = {}
        self.at = 0
        self.line_starts = [0] + [match.end() for match in re.finditer("\n", text)]

    def where(self, index: int) -> Location:
        line, column = self.where_tuple(index)
        return Location(self.path, line, column)

    def fail(self, message: str, index: Optional[int] = None) -> NoReturn:
        index = self.at if index is None else index
        if index >= len(self.text):
            message += " (the file ends here)"
        raise self.error(f"not valid JSON: {message}", self.where(index))

    def skip(self) -> None:
        self.at = _WHITESPACE.match(self.text, self.at).end()  # type: ignore[union-attr]

    def peek(self) -> str:
        self.skip()
        return self.text[self.at: self.at + 1]

    def document(self) -> Document:
        if not self.peek():
            self.fail("the file is empty")
        data = self.value()
        if self.peek():
            self.fail("unexpected text after the document")
        return Document(self.path, data, self.marks)

    def string(self) -> str:
        start = self.at
        try:
            value, self.at = _scanstring(self.text, self.at + 1, True)
        except json.JSONDecodeError as exc:
            self.fail(exc.msg, exc.pos if exc.pos > start else start)
        bad = FORBIDDEN.search(value)
        if bad:
            raise self.error(f"a string holds the character U+{ord(bad.group()):04X} (control characters, NUL "
                             "and lone surrogates are not allowed)", self.where(start))
        return value

    def scalar(self) -> Any:
        char = self.text[self.at]
        if char == '"':
            return self.string()
        for word, value in _LITERALS:
            if self.text.startswith(word, self.at):
                self.at += len(word)
                return value
        match = _NUMBER.match(self.text, self.at)
        if not match:
            self.fail(f"unexpected {char!r} (expected a value)")
        self.at = match.end()
        text = match.group()
        real = any(c in text for c in ".eE")
        if (real and abs(float(text)) == float("inf")) or (not real and len(text.lstrip("-")) > 100):
            self.fail(f"the number {text[:20]}{'…' if len(text) > 20 else ''} is out of range", match.start())
        return float(text) if real else int(text)

    def value(self) -> Any:
        """One value, containers included, built without recursion."""
        stack: List[_Open] = []
        while True:
            # a value is expected here
            char = self.peek()
            key = self.child_key(stack)
            if not char:
                self.fail("the file ends where a value was expected")
            if char in "[{":
                if len(stack) >= self.limits.max_depth:
                    self.fail(f"nested more than {self.limits.max_depth} levels deep")
                self.marks[key] = self.where_tuple(self.at)
                self.at += 1
                stack.append(_Open([] if char == "[" else {}, key))
                if self.peek() != ("]" if char == "[" else "}"):
                    if char == "{":
                        self.member_key(stack[-1])
                    continue
                self.at += 1
                value = stack.pop().value
            else:
                self.marks[key] = self.where_tuple(self.at)
                value = self.scalar()
            # a value is complete: add it to its container, and close every container that ends here
            while True:
                if not stack:
                    return value
                top = stack[-1]
                self.add(top, value)
                closer = "]" if isinstance(top.value, list) else "}"
                char = self.peek()
                if char == ",":
                    self.at += 1
                    if isinstance(top.value, dict):
                        self.member_key(top)
                    break
                if char != closer:
                    self.fail(f"expected ',' or {closer!r}")
                self.at += 1
                value = stack.pop().value

    def child_key(self, stack: List[_Open]) -> PathKey:
        if not stack:
            return ()
        top = stack[-1]
        if isinstance(top.value, dict):
            return top.key + (top.pending,)  # type: ignore[operator]
        return top.key + (len(top.value),)

    def member_key(self, mapping: _Open) -> None:
        if self.peek() != '"':
            self.fail("expected a member name in double quotes")
        start = self.at
        name = self.string()
        if name in mapping.value:
            raise self.error(f"duplicate key {name!r}", self.where(start))
        self.marks[mapping.key + (name, "<key>")] = self.where_tuple(start)
        if self.peek() != ":":
            self.fail("expected ':' after the member name")
        self.at += 1
        mapping.pending = name

    def where_tuple(self, index: int) -> Tuple[int, int]:
        """1-based line and column of ``text[index]`` (a binary search over the line starts)."""
        line = bisect.bisect_right(self.line_starts, index)
        return line, index - self.line_starts[line - 1] + 1

    def add(self, top: _Open, value: Any) -> None:
        if isinstance(top.value, dict):
            top.value[top.pending] = value  # type: ignore[index]
            top.pending = None
        else:
            top.value.append(value)
