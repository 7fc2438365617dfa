"""RPM dependency strings: the capability names in them, and whether a set of provides satisfies them.

The strings are what ``rpmspec -q --buildrequires`` and ``rpmspec -q --provides`` print:

- a simple dependency ``name [op version]``: ``foo``, ``python3-devel >= 3.11``,
  ``pkgconfig(glib-2.0) >= 2``, ``libc.so.6()(64bit)``;
- a rich (boolean) dependency in parentheses, with the operators ``and``, ``or``, ``if``,
  ``unless`` (each optionally with ``else``), ``with`` and ``without``, nested with more
  parentheses: ``(a >= 1 or b)``, ``(a and (b if c))``.

Names are taken as rpm takes them: a name runs to the next blank or to a ``)`` that closes no
``(`` inside the name itself, so ``pkgconfig(foo)`` and ``libfoo.so.1()(64bit)`` are single names.
Strings with macros rpm could not expand (``python%{python3_pkgversion}-foo``) are kept as
they are; they simply match nothing. Nothing here raises on a malformed string: the parse is
best-effort, so one broken spec never stops a plan.

Versions are carried along here; :mod:`streambuild.graph` compares them with rpm's own rules
(:func:`streambuild._foreign.rpmlib.overlaps`), through :func:`satisfied` and :func:`leaves`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, List, Optional, Tuple, Union

__all__ = [
    "RICH_OPERATORS",
    "SimpleDep",
    "RichDep",
    "Dependency",
    "parse_dependency",
    "capability_names",
    "provide_name",
    "leaves",
    "satisfied",
    "satisfied_by",
]

#: The boolean operators of rpm's rich dependencies.
RICH_OPERATORS = frozenset({"and", "or", "if", "unless", "else", "with", "without"})

_COMPARISON_CHARS = frozenset("<>=!")
_HAS_COMPARISON = re.compile(r"[<>=!]").search


@dataclass(frozen=True)
class SimpleDep:
    """One capability, optionally versioned: ``name``, ``name >= 1.2``."""

    name: str
    operator: Optional[str] = None
    version: Optional[str] = None


@dataclass(frozen=True)
class RichDep:
    """A boolean dependency.

    ``operator`` is one of ``and``, ``or``, ``with``, ``without``, ``if``, ``unless``.
    For ``and``/``or``/``with`` the operands are all the chained terms (``a and b and c``);
    for ``without`` they are ``(kept, excluded)``; for ``if``/``unless`` they are
    ``(then, condition)`` or ``(then, condition, else)``.
    """

    operator: str
    operands: Tuple["Dependency", ...]


Dependency = Union[SimpleDep, RichDep]

# Token kinds.
_OPEN, _CLOSE, _WORD = 0, 1, 2
_Token = Tuple[int, str]


def _tokens(text: str) -> List[_Token]:
    """Split a dependency string into parentheses and words, rpm's way."""
    out: List[_Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c == "(":
            out.append((_OPEN, c))
            i += 1
        elif c == ")":
            out.append((_CLOSE, c))
            i += 1
        else:
            start, depth = i, 0
            while i < n:
                c = text[i]
                if c.isspace():
                    break
                if c == "(":
                    depth += 1
                elif c == ")":
                    if depth == 0:
                        break
                    depth -= 1
                i += 1
            out.append((_WORD, text[start:i]))
    return out


def _is_comparison(word: str) -> bool:
    return bool(word) and all(c in _COMPARISON_CHARS for c in word)


def _split_simple(word: str) -> Tuple[str, Optional[str], Optional[str]]:
    """``foo>=1.2`` (no blanks) -> ``("foo", ">=", "1.2")``; anything with a macro is left whole."""
    if _HAS_COMPARISON(word) is None or "%" in word:
        return word, None, None
    depth = 0
    for i, c in enumerate(word):
        if c == "(":
            depth += 1
        elif c == ")":
            depth -= 1
        elif depth == 0 and c in _COMPARISON_CHARS and i > 0:
            j = i
            while j < len(word) and word[j] in _COMPARISON_CHARS:
                j += 1
            return word[:i], word[i:j], (word[j:] or None)
    return word, None, None


class _Parser:
    """Recursive descent over the tokens of one rich dependency; lenient, never raises."""

    def __init__(self, tokens: List[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def _peek(self) -> Optional[_Token]:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def operand(self) -> Optional[Dependency]:
        tok = self._peek()
        if tok is None:
            return None
        kind, text = tok
        if kind == _OPEN:
            self.pos += 1
            inner = self.expression()
            close = self._peek()
            if close is not None and close[0] == _CLOSE:
                self.pos += 1
            return inner
        if kind == _CLOSE:
            return None
        if text in RICH_OPERATORS:
            return None
        self.pos += 1
        if _is_comparison(text):  # a stray comparison: drop it and its version
            ver = self._peek()
            if ver is not None and ver[0] == _WORD and ver[1] not in RICH_OPERATORS:
                self.pos += 1
            return None
        name, op, version = _split_simple(text)
        nxt = self._peek()
        if op is None and nxt is not None and nxt[0] == _WORD and _is_comparison(nxt[1]):
            self.pos += 1
            op = nxt[1]
            ver = self._peek()
            if ver is not None and ver[0] == _WORD and ver[1] not in RICH_OPERATORS:
                self.pos += 1
                version = ver[1]
        return SimpleDep(name, op, version)

    def expression(self) -> Optional[Dependency]:
        first = self.operand()
        operands: List[Dependency] = [first] if first is not None else []
        operator: Optional[str] = None
        while True:
            tok = self._peek()
            if tok is None or tok[0] == _CLOSE:
                break
            kind, text = tok
            if kind == _WORD and text in RICH_OPERATORS:
                self.pos += 1
                if text == "else" and operator in ("if", "unless"):
                    pass  # the third operand of if/unless
                elif operator is None:
                    operator = "and" if text == "else" else text
                elif text != operator:
                    # Mixed operators without parentheses: rpm refuses them; nest to the left.
                    operands = [RichDep(operator, tuple(operands))] if operands else []
                    operator = text
            # Every pass consumes a token (an operator above, or the operand's first token),
            # so a malformed string cannot loop.
            nxt = self.operand()
            if nxt is not None:
                operands.append(nxt)
        if not operands:
            return None
        if operator is None and len(operands) == 1:
            return operands[0]
        return RichDep(operator or "and", tuple(operands))


@lru_cache(maxsize=1 << 16)
def parse_dependency(dep: str) -> Optional[Dependency]:
    """Parse one dependency string; ``None`` for an empty or wholly unparsable one.

    >>> parse_dependency("foo >= 1.2")
    SimpleDep(name='foo', operator='>=', version='1.2')
    >>> parse_dependency("(a or b)").operator
    'or'
    """
    text = dep.strip()
    if not text:
        return None
    if text[0] != "(" and text.count("(") == text.count(")"):
        words = text.split(None, 2)
        name, op, version = _split_simple(words[0])
        if op is None and len(words) >= 2 and _is_comparison(words[1]):
            op = words[1]
            version = words[2] if len(words) > 2 else None
        return SimpleDep(name, op, version)
    try:
        return _Parser(_tokens(text)).expression()
    except RecursionError:  # absurdly deep nesting: fall back to the words
        names = [w for k, w in _tokens(text) if k == _WORD and w not in RICH_OPERATORS and not _is_comparison(w)]
        return RichDep("and", tuple(SimpleDep(n) for n in names)) if names else None


def _names(node: Optional[Dependency], out: List[str]) -> None:
    stack: List[Dependency] = [node] if node is not None else []
    while stack:
        cur = stack.pop()
        if isinstance(cur, SimpleDep):
            if cur.name not in out:
                out.append(cur.name)
        else:
            stack.extend(reversed(cur.operands))


@lru_cache(maxsize=1 << 16)
def capability_names(dep: str) -> Tuple[str, ...]:
    """The capability names in one rpm dependency string, in order, without repeats.

    Every operand of a rich dependency counts, conditions included.

    >>> capability_names("pkgconfig(glib-2.0) >= 2")
    ('pkgconfig(glib-2.0)',)
    >>> capability_names("(a >= 1 or (b if c))")
    ('a', 'b', 'c')
    """
    out: List[str] = []
    _names(parse_dependency(dep), out)
    return tuple(out)


@lru_cache(maxsize=1 << 17)
def provide_name(provide: str) -> str:
    """The capability name of one provide: ``"python3-torch = 2.9.1-1"`` -> ``"python3-torch"``."""
    text = provide.strip()
    if not text:
        return ""
    return _split_simple(text.split(None, 1)[0])[0]


def leaves(node: Dependency) -> List[SimpleDep]:
    """Every simple dependency in ``node``, conditions included, in order."""
    out: List[SimpleDep] = []
    stack: List[Dependency] = [node]
    while stack:
        cur = stack.pop()
        if isinstance(cur, SimpleDep):
            out.append(cur)
        else:
            stack.extend(reversed(cur.operands))
    return out


def satisfied(node: Dependency, has: Callable[[SimpleDep], bool]) -> bool:
    """Whether a parsed dependency can be met, ``has`` answering for each simple (versioned) part.

    ``or`` needs one operand, ``and``/``with`` all of them, ``without`` its first;
    ``(x if c)`` / ``(x unless c)`` are taken to need ``x`` (the condition may hold), and
    ``(x if c else y)`` to need ``x`` or ``y``.
    """
    if isinstance(node, SimpleDep):
        return bool(has(node))
    op, operands = node.operator, node.operands
    if op == "or":
        return any(satisfied(o, has) for o in operands)
    if op in ("and", "with"):
        return all(satisfied(o, has) for o in operands)
    if op == "without":
        return satisfied(operands[0], has)
    if op in ("if", "unless"):
        if len(operands) >= 3:
            return satisfied(operands[0], has) or satisfied(operands[2], has)
        return satisfied(operands[0], has)
    return all(satisfied(o, has) for o in operands)


def satisfied_by(dep: str, has: Callable[[str], bool]) -> bool:
    """Whether a dependency can be met by a package set whose provides ``has`` answers for, by name.

    Versions are ignored (see :func:`satisfied` for the rules of each operator). An empty
    string is satisfied.
    """
    node = parse_dependency(dep)
    if node is None:
        return True
    return satisfied(node, lambda leaf: has(leaf.name))
