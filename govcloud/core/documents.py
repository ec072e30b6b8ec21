"""Parsing YAML text into plain data, keeping the line of every key for diagnostics.

Guards against what a hostile or broken file can do to a loader: files over a size
limit, alias bombs ("billion laughs"), recursive anchors, duplicate keys and non-text keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from govcloud.errors import Diagnostic

try:  # the C parser is several times faster; fall back to pure Python where it is missing
    from yaml import CSafeLoader as _BaseLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _BaseLoader  # type: ignore[assignment]


class _Loader(_BaseLoader):
    """The safe loader with its implicit-tag resolution memoised.

    Resolving a plain scalar's tag (int? bool? null?) depends on its text alone, and plans
    repeat the same few hundred values (flavors, images, true, 0.3 …): a dict lookup replaces
    PyYAML's regular-expression scan for every one of them.
    """

    _tags: dict[str, str] = {}

    # No path resolvers are registered, so PyYAML's per-node bookkeeping for them is idle
    # work (two calls for each of a plan's hundreds of nodes).
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:
        return None

    def ascend_resolver(self) -> None:
        return None

    def resolve(self, kind: type, value: str, implicit: tuple[bool, bool]) -> str:
        # (types-PyYAML leaves BaseResolver.resolve untyped, hence the two ignores)
        if kind is yaml.ScalarNode and implicit[0]:
            tag = self._tags.get(value)
            if tag is None:
                tag = super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call]
                if len(self._tags) < 50_000:
                    self._tags[value] = tag
            return tag
        return super().resolve(kind, value, implicit)  # type: ignore[no-untyped-call,no-any-return]


MAX_FILE_BYTES = 1_000_000
MAX_NODES = 50_000
MAX_DEPTH = 40

Path_ = tuple[str | int, ...]


def dotted(path: Path_) -> str:
    """Render a key path the way users write it: ``servers[2].flavor``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


@dataclass
class Document:
    """One YAML file as data, with the line where each key path starts."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line(self, path: Path_) -> int:
        """The line of ``path``, or of its nearest parent that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def diag(self, path: Path_, message: str, hint: str = "", **kw: Any) -> Diagnostic:
        return Diagnostic(self.file, self.line(path), dotted(path), message, hint, **kw)


class _TooBig(Exception):
    pass


class _Converter:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.nodes = 0
        self.problems: list[Diagnostic] = []

    def convert(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            raise _TooBig(node.start_mark.line + 1)
        if isinstance(node, yaml.ScalarNode):
            return _scalar(node)
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, child in enumerate(node.value):
                self.doc.lines[(*path, i)] = child.start_mark.line + 1
                items.append(self.convert(child, (*path, i), depth + 1))
            return items
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = key_node.value if key_node.tag == _STR else \
                self.convert(key_node, path, depth + 1)
            line = key_node.start_mark.line + 1
            if key == "<<":
                self.problems.append(
                    Diagnostic(self.doc.file, line, dotted(path), "YAML merge keys (<<) are not "
                               "supported", "write the keys out in full")
                )
                continue
            if not isinstance(key, str):
                self.problems.append(
                    Diagnostic(self.doc.file, line, dotted(path), f"key {key!r} is not text",
                               "quote the key or use a word as the key")
                )
                continue
            if key in mapping:
                self.problems.append(
                    Diagnostic(self.doc.file, line, dotted((*path, key)),
                               f"duplicate key '{key}' (first on line "
                               f"{self.doc.lines[(*path, key)]})",
                               "remove one of the two; YAML would silently keep only the last")
                )
                continue
            self.doc.lines[(*path, key)] = line
            mapping[key] = self.convert(value_node, (*path, key), depth + 1)
        return mapping


_STR = "tag:yaml.org,2002:str"
_resolver_loader = _BaseLoader("")


_constructed: dict[tuple[str, str], Any] = {}


def _scalar(node: yaml.ScalarNode) -> Any:
    """A scalar's value. Plans repeat the same numbers and booleans over and over, and such
    values are immutable: each (tag, text) is constructed once."""
    if node.tag == _STR:
        return node.value
    key = (node.tag, node.value)
    found = _constructed.get(key, _constructed)
    if found is _constructed:
        found = _resolver_loader.construct_object(node, deep=True)
        if len(_constructed) < 50_000:
            _constructed[key] = found
    return found


def parse(text: str, name: str) -> tuple[Document | None, list[Diagnostic]]:
    """Parse YAML text into a Document, or explain why it cannot be parsed."""
    doc = Document(name, None)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or "malformed YAML"
        return None, [Diagnostic(name, line, "", f"malformed YAML: {what}",
                                 "fix the syntax at this line (indentation, a missing ':' "
                                 "or an unclosed quote or bracket)")]
    except yaml.YAMLError as exc:
        return None, [Diagnostic(name, 1, "", f"malformed YAML: {exc}", "fix the syntax")]
    except RecursionError:
        return None, [Diagnostic(name, 1, "", f"nesting deeper than {MAX_DEPTH} levels",
                                 "flatten the file")]
    if node is None:
        return None, [Diagnostic(name, 1, "", "file is empty", "write the plan or delete the file")]
    doc.lines[()] = node.start_mark.line + 1
    conv = _Converter(doc)
    try:
        doc.data = conv.convert(node, (), 0)
    except _TooBig as big:
        return None, [Diagnostic(name, big.args[0], "",
                                 f"file expands to more than {MAX_NODES:,} values or "
                                 f"{MAX_DEPTH} levels (an alias bomb or a recursive anchor?)",
                                 "write the values out plainly without nested aliases")]
    except (yaml.YAMLError, ValueError, TypeError) as exc:
        return None, [Diagnostic(name, 1, "", f"malformed YAML value: {exc}", "fix the value")]
    return doc, conv.problems
