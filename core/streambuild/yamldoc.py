"""YAML loading that keeps where every value came from.

PyYAML's node graph carries line and column marks; values are built from the nodes
so that a later check can point at the exact place of a bad value. Duplicate
mapping keys, which PyYAML would silently collapse, are errors here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, List, Tuple, Union

import yaml

from .errors import Location, ManifestError

PathKey = Tuple[Union[str, int], ...]


@dataclass
class Document:
    """A loaded YAML document and the location of every value in it, by path."""

    path: str
    data: Any
    marks: Dict[PathKey, Tuple[int, int]]

    def where(self, key: PathKey) -> Location:
        """The location of the value at ``key`` or, failing that, of its nearest parent."""
        while key not in self.marks and key:
            key = key[:-1]
        line, column = self.marks.get(key, (None, None))
        return Location(self.path, line, column)

    def where_key(self, key: PathKey) -> Location:
        """The location of a mapping key (rather than its value)."""
        mark = self.marks.get(key + ("<key>",))
        if mark is None:
            return self.where(key)
        return Location(self.path, mark[0], mark[1])


def load(text: str, path: str) -> Document:
    loader = yaml.SafeLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = Location(path, mark.line + 1, mark.column + 1) if mark else Location(path)
            raise ManifestError(f"not valid YAML: {exc.problem or exc.context}", where) from None
        except yaml.YAMLError as exc:
            raise ManifestError(f"not valid YAML: {exc}", Location(path)) from None
        marks: Dict[PathKey, Tuple[int, int]] = {}
        if node is None:
            return Document(path, None, marks)
        data = _build(loader, node, (), marks, path)
        return Document(path, data, marks)
    finally:
        loader.dispose()


def _build(loader: yaml.SafeLoader, node: yaml.Node, key: PathKey, marks: Dict[PathKey, Tuple[int, int]], path: str) -> Any:
    marks[key] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        result: Dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                where = Location(path, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                raise ManifestError("mapping keys must be plain strings", where)
            name = loader.construct_object(key_node)
            if not isinstance(name, str):
                name = str(name)
            if name in result:
                where = Location(path, key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                raise ManifestError(f"duplicate key {name!r}", where)
            marks[key + (name, "<key>")] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[name] = _build(loader, value_node, key + (name,), marks, path)
        return result
    if isinstance(node, yaml.SequenceNode):
        items: List[Any] = []
        for index, item in enumerate(node.value):
            items.append(_build(loader, item, key + (index,), marks, path))
        return items
    try:
        return loader.construct_object(node)
    except yaml.YAMLError as exc:
        where = Location(path, node.start_mark.line + 1, node.start_mark.column + 1)
        raise ManifestError(f"cannot read value: {exc}", where) from None
