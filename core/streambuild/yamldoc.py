"""YAML loading that keeps where every value came from, and that no document can crash or exhaust.

Values are built from PyYAML's event stream (not its recursive composer; libyaml's parser where
PyYAML has it, its own otherwise), so that
every value's line and column is kept for later checks and every limit is checked
before anything is built:

* the text must be UTF-8 (an invalid byte is reported at its line and column) and
  hold no control characters other than tab and line breaks, no NUL, no lone
  surrogates and no Unicode line separators (which would shift line numbers);
* at most :attr:`Limits.max_bytes` bytes, nested at most :attr:`Limits.max_depth`
  deep, and at most :attr:`Limits.max_nodes` values *with aliases counted as
  expanded*: an alias bomb is refused at the alias that crosses the bound, before it
  is expanded (an alias shares the value of its anchor, it is never copied);
* no tags (``!!int``, ``!!timestamp``, ``!!python/...``) other than those that say what a
  value already is (``!!str``, ``!!map``, ``!!seq``), no merge keys (``<<``),
  no recursive aliases, keys that are plain scalars, and no duplicate keys (which
  PyYAML would silently collapse);
* plain scalars are read as YAML 1.1 core types (null, booleans, integers and
  floats) except dates: ``2024-06-01`` stays a string, as a ref named so is.

Every problem is a :class:`~streambuild.errors.ManifestError` (or the class given as
``error``) with the file, line and column; nothing else leaves :func:`load`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Set, Tuple, Union

import yaml

from .errors import Location, ManifestError
from .textdoc import DEFAULT_LIMITS, Document, Limits, Marks, PathKey, check_size, check_text, decode

def load_bytes(data: bytes, path: str, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Load a document from the bytes of a file (see :func:`load`)."""
    check_size(len(data), path, limits)
    return load(decode(data, path), path, limits)


def load(text: str, path: str, limits: Limits = DEFAULT_LIMITS) -> Document:
    """Load one YAML document; every problem is a :class:`ManifestError` at its file, line and column."""
    check_size(len(text.encode("utf-8", "surrogatepass")), path, limits)
    if text.startswith("\ufeff"):
        text = text[1:]
    check_text(text, path)
    if _CLoader is not None:
        loader = _CLoader(text)
        try:
            return _Builder(loader, path, limits).document()
        except yaml.YAMLError:
            pass  # not YAML: read again below, so that the error says what PyYAML's own parser says
        finally:
            loader.dispose()
    try:
        loader = yaml.SafeLoader(text)
    except yaml.YAMLError as exc:  # the Reader checks the text first; check_text refuses more than it does
        raise ManifestError(f"not valid YAML: {exc}", Location(path, 1, 1)) from None
    try:
        return _Builder(loader, path, limits).document()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path, 1, 1)
        problem = exc.problem or exc.context or "cannot be read"
        if exc.context and exc.problem and exc.context_mark is not None:
            problem = f"{exc.problem} ({exc.context} at line {exc.context_mark.line + 1})"
        raise ManifestError(f"not valid YAML: {problem}", where) from None
    except yaml.YAMLError as exc:
        raise ManifestError(f"not valid YAML: {exc}", Location(path, 1, 1)) from None
    finally:
        loader.dispose()


#: libyaml's event parser (PyYAML's C extension), which gives every event its line and column as the
#: Python parser does, at a tenth of its cost; a document it refuses is read again by the Python parser
#: for the message. None where PyYAML was built without libyaml.
_CLoader = getattr(yaml, "CSafeLoader", None)


@dataclass
class _Open:
    """A mapping or sequence being built: its value, its path, and (mappings) the key waiting for a value."""

    value: Union[Dict[str, Any], List[Any]]
    key: PathKey
    anchor: Optional[str]
    nodes_at_start: int
    pending: Optional[str] = None
    has_pending: bool = False


_CORE = "tag:yaml.org,2002:"
_NULL = _CORE + "null"
_BOOL = _CORE + "bool"
_INT = _CORE + "int"
_FLOAT = _CORE + "float"
_ALLOWED_TAGS = {yaml.ScalarEvent: _CORE + "str", yaml.MappingStartEvent: _CORE + "map",
                 yaml.SequenceStartEvent: _CORE + "seq"}


class _Builder:
    def __init__(self, loader: Any, path: str, limits: Limits) -> None:
        self.loader = loader
        self.path = path
        self.limits = limits
        self.marks: Marks = {}
        self.anchors: Dict[str, Tuple[Any, int]] = {}  # anchor -> (value, values it stands for)
        self.open_anchors: Set[str] = set()
        self.nodes = 0

    def fail(self, message: str, mark: Any) -> None:
        raise ManifestError(message, Location(self.path, mark.line + 1, mark.column + 1))

    def document(self) -> Document:
        loader = self.loader
        loader.get_event()  # StreamStart
        if loader.check_event(yaml.StreamEndEvent):
            loader.get_event()
            return Document(self.path, None, self.marks)
        loader.get_event()  # DocumentStart
        data = self.node()
        loader.get_event()  # DocumentEnd
        if not loader.check_event(yaml.StreamEndEvent):
            self.fail("expected a single document, found a second one", loader.peek_event().start_mark)
        return Document(self.path, data, self.marks)

    def count(self, nodes: int, mark: Any) -> None:
        self.nodes += nodes
        if self.nodes > self.limits.max_nodes:
            self.fail(f"the document holds more than {self.limits.max_nodes} values (aliases counted as "
                      "expanded); refusing to build it", mark)

    def node(self) -> Any:
        """Build the value starting at the next event, iteratively (no recursion, whatever the depth)."""
        stack: List[_Open] = []
        result: Any = None
        done = False
        while not done:
            event = self.loader.get_event()
            if isinstance(event, (yaml.SequenceEndEvent, yaml.MappingEndEvent)):
                closed = stack.pop()
                if closed.anchor is not None:
                    self.open_anchors.discard(closed.anchor)
                    self.anchors[closed.anchor] = (closed.value, self.nodes - closed.nodes_at_start)
                value: Any = closed.value
            else:
                parent = stack[-1] if stack else None
                if parent is not None and isinstance(parent.value, dict) and not parent.has_pending:
                    parent.pending = self.key(event, parent)
                    parent.has_pending = True
                    continue
                key = self.child_key(parent)
                self.marks[key] = (event.start_mark.line + 1, event.start_mark.column + 1)
                if isinstance(event, yaml.AliasEvent):
                    value = self.alias(event)
                elif isinstance(event, yaml.ScalarEvent):
                    self.anchor(event)
                    self.count(1, event.start_mark)
                    value = self.scalar(event)
                    if event.anchor is not None:
                        self.anchors[event.anchor] = (value, 1)
                elif isinstance(event, (yaml.SequenceStartEvent, yaml.MappingStartEvent)):
                    self.anchor(event)
                    self.tag(event)
                    start = self.nodes
                    self.count(1, event.start_mark)
                    if len(stack) >= self.limits.max_depth:
                        self.fail(f"nested more than {self.limits.max_depth} levels deep", event.start_mark)
                    container: Union[Dict[str, Any], List[Any]] = (
                        [] if isinstance(event, yaml.SequenceStartEvent) else {}
                    )
                    if event.anchor is not None:
                        self.open_anchors.add(event.anchor)
                    stack.append(_Open(container, key, event.anchor, start))
                    continue
                else:
                    self.fail(f"unexpected {type(event).__name__}", event.start_mark)
            if not stack:
                result, done = value, True
                continue
            parent = stack[-1]
            if isinstance(parent.value, dict):
                parent.value[parent.pending] = value  # type: ignore[index]
                parent.pending, parent.has_pending = None, False
            else:
                parent.value.append(value)
        return result

    def child_key(self, parent: Optional[_Open]) -> PathKey:
        if parent is None:
            return ()
        if isinstance(parent.value, dict):
            return parent.key + (parent.pending,)  # type: ignore[operator]
        return parent.key + (len(parent.value),)

    def key(self, event: Any, mapping: _Open) -> str:
        if not isinstance(event, yaml.ScalarEvent):
            self.fail("mapping keys must be plain strings", event.start_mark)
        self.tag(event)
        if event.anchor is not None:
            self.fail("anchors on mapping keys are not supported", event.start_mark)
        if event.value == "<<" and event.implicit[0]:
            self.fail("merge keys ('<<') are not supported; write the keys out", event.start_mark)
        name = event.value
        if name in mapping.value:
            self.fail(f"duplicate key {name!r}", event.start_mark)
        self.count(1, event.start_mark)
        self.marks[mapping.key + (name, "<key>")] = (event.start_mark.line + 1, event.start_mark.column + 1)
        return str(name)

    def anchor(self, event: Any) -> None:
        if event.anchor is not None and (event.anchor in self.anchors or event.anchor in self.open_anchors):
            self.fail(f"anchor &{event.anchor} is defined twice", event.start_mark)

    def alias(self, event: Any) -> Any:
        if event.anchor in self.open_anchors:
            self.fail(f"alias *{event.anchor} refers to a value that contains it", event.start_mark)
        if event.anchor not in self.anchors:
            self.fail(f"alias *{event.anchor} has no anchor &{event.anchor} before it", event.start_mark)
        value, size = self.anchors[event.anchor]
        self.count(size, event.start_mark)
        return value

    def tag(self, event: Any) -> None:
        """Only tags that say what the value already is are allowed: ``!!str`` (force a string),
        ``!!map``/``!!seq`` on a mapping/sequence, and the non-specific ``!``."""
        if event.tag is None or event.tag == "!" or event.tag == _ALLOWED_TAGS.get(type(event)):
            return
        shown = "!!" + event.tag[len(_CORE):] if event.tag.startswith(_CORE) else event.tag
        self.fail(f"YAML tags ({shown}) are not used in this file; write the value plainly", event.start_mark)

    def scalar(self, event: Any) -> Any:
        self.tag(event)
        if event.tag is not None or not event.implicit[0]:
            return event.value  # quoted, block or non-specific: a string
        kind = self.loader.resolve(yaml.ScalarNode, event.value, event.implicit)
        if kind not in (_NULL, _BOOL, _INT, _FLOAT):
            return event.value  # strings, and dates kept as written
        node = yaml.ScalarNode(kind, event.value, event.start_mark, event.end_mark)
        try:
            if kind == _NULL:
                return None
            if kind == _BOOL:
                return self.loader.construct_yaml_bool(node)
            if kind == _INT:
                return self.loader.construct_yaml_int(node)
            return self.loader.construct_yaml_float(node)
        except (ValueError, OverflowError) as exc:
            self.fail(f"cannot read {event.value[:40]!r} as a number: {exc}", event.start_mark)
        return None  # not reached
