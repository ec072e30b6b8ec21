"""Parsing YAML text into plain data, keeping the line of every key for diagnostics.

Guards against what a hostile or broken file can do to a loader: files over a size
limit, alias bombs ("billion laughs"), recursive anchors, duplicate keys, non-text keys, tags
(on scalars, lists and mappings alike) and numbers that are not plain finite decimals (NaN,
infinity, YAML 1.1's 0x3, 017, 1_000 and 1:30, integers of thousands of digits).
"""

from __future__ import annotations

import contextlib
import math
import operator
import re
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
    # work (two calls for each of a plan's hundreds of nodes). The parser ignores what they
    # return, so two built-in functions that take the same arguments and do nothing stand in
    # for them: a call to a built-in costs a fraction of a call to a Python method.
    descend_resolver = staticmethod(operator.is_)  # type: ignore[assignment]  # result ignored
    ascend_resolver = staticmethod(tuple)  # type: ignore[assignment]  # () -> (), ignored

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


_YAML = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT = _YAML + "str", _YAML + "int", _YAML + "float"
_SEQ, _MAP, _MERGE, _VALUE = _YAML + "seq", _YAML + "map", _YAML + "merge", _YAML + "value"
_BOOL, _NULL = _YAML + "bool", _YAML + "null"
_SCALAR_TAGS = {_STR, _INT, _FLOAT, _BOOL, _NULL, _YAML + "timestamp"}
# Numbers as a person writes them (YAML 1.2 core schema, what editors and JSON Schema read):
# decimal digits, no '_' grouping, no leading zero, no 0x/0o/0b, no base-60 1:30.
_DECIMAL_INT = re.compile(r"[-+]?(0|[1-9][0-9]*)")
_DECIMAL_FLOAT = re.compile(r"[-+]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?")
MAX_DIGITS = 18


class _Converter:
    """YAML nodes to plain data. What a plan may not hold (tags, numbers that are not plain
    finite decimals) is collected in ``refused``: the file is then refused as a whole, every
    such problem named at its own line."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.nodes = 0
        self.problems: list[Diagnostic] = []
        self.refused: list[Diagnostic] = []

    def refuse(self, node: yaml.Node, path: Path_, message: str, hint: str) -> None:
        self.refused.append(Diagnostic(self.doc.file, node.start_mark.line + 1, dotted(path),
                                       message, hint))

    def convert(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES or depth > MAX_DEPTH:
            raise _TooBig(node.start_mark.line + 1)
        tag = node.tag
        if tag == _STR and type(node) is yaml.ScalarNode:  # most values: text as it is
            return node.value
        if isinstance(node, yaml.ScalarNode):
            if tag not in _SCALAR_TAGS and tag != _VALUE:
                return self._tag(node, path)
            return self.scalar(node, path)
        if tag != (_SEQ if isinstance(node, yaml.SequenceNode) else _MAP):
            self._tag(node, path)
        lines = self.doc.lines
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, child in enumerate(node.value):
                at = (*path, i)
                lines[at] = child.start_mark.line + 1
                items.append(self.convert(child, at, depth + 1))
            return items
        mapping: dict[str, Any] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.tag == _MERGE:
                self.problems.append(
                    Diagnostic(self.doc.file, line, dotted(path), "YAML merge keys (<<) are not "
                               "supported", "write the keys out in full")
                )
                continue
            key = key_node.value if key_node.tag == _STR else \
                self.convert(key_node, path, depth + 1)
            if not isinstance(key, str):
                shown = f"key {_short(key_node.value)}" if isinstance(key_node, yaml.ScalarNode) \
                    else "a key that is a list or mapping"
                self.problems.append(
                    Diagnostic(self.doc.file, line, dotted(path), f"{shown} is not text",
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
            at = (*path, key)
            lines[at] = line
            mapping[key] = self.convert(value_node, at, depth + 1)
        return mapping

    def _tag(self, node: yaml.Node, path: Path_) -> None:
        tag = node.tag.replace(_YAML, "!!")
        self.refuse(node, path, f"the YAML tag {_short(tag)} is not allowed",
                    "remove the tag: these files hold plain data (text, numbers, true/false, "
                    "lists and mappings) and govcloud never builds objects from tags")

    def scalar(self, node: yaml.ScalarNode, path: Path_) -> Any:
        text = node.value
        if node.tag in (_STR, _VALUE):
            return text
        if node.tag == _INT:
            if not _DECIMAL_INT.fullmatch(text):
                return self._yaml11_number(node, path, "whole number")
            if len(text.lstrip("+-")) > MAX_DIGITS:
                return self.refuse(node, path, f"a number of {len(text.lstrip('+-')):,} digits "
                                   "is too long", f"write a number of at most {MAX_DIGITS} "
                                   "digits")
            return int(text)
        if node.tag == _FLOAT:
            if text.lower().lstrip("+-") in (".inf", ".nan"):
                return self.refuse(node, path, f"{text} is not a finite number (NaN and "
                                   "infinity are not amounts)", "write a number such as 0.5")
            if not _DECIMAL_FLOAT.fullmatch(text):
                return self._yaml11_number(node, path, "number")
            value = float(text)
            if not math.isfinite(value):
                return self.refuse(node, path, f"{_short(text)} is too large to be a number",
                                   "write a smaller number")
            return value
        if node.tag == _BOOL:  # as the safe constructor reads them (true, yes, on …)
            return _resolver_loader.bool_values[text.lower()]
        if node.tag == _NULL:
            return None
        try:
            return _construct(node)
        except (yaml.YAMLError, ValueError, TypeError, OverflowError) as exc:
            what = str(getattr(exc, "problem", None) or exc).splitlines()[0]
            return self.refuse(node, path, f"{_short(text)} is not a valid value: {what}",
                               "correct it, or quote it if it is text")

    def _yaml11_number(self, node: yaml.ScalarNode, path: Path_, kind: str) -> None:
        text = node.value
        bare = text.lstrip("+-")
        form = ("in hexadecimal" if bare[:2] in ("0x", "0X") else "in binary" if bare[:2] == "0b"
                else "in base 60 (1:30 is 90)" if ":" in text
                else "with '_' between digits" if "_" in text else "in octal (a leading 0)")
        value = None
        if len(text) <= 40:
            with contextlib.suppress(yaml.YAMLError, ValueError, OverflowError):
                value = _construct(node)
        read = "" if value is None else f", which YAML 1.1 reads as {value}"
        self.refuse(node, path, f"{_short(text)} is a {kind} written {form}{read}; govcloud "
                    "takes plain decimal numbers only",
                    f"write {'it' if value is None else value} in decimal digits, or quote it "
                    "if it is text")


def _short(text: object, width: int = 40) -> str:
    shown = str(text)
    return repr(shown if len(shown) <= width else shown[:width - 3] + "...")


_resolver_loader = _BaseLoader("")


def _construct(node: yaml.ScalarNode) -> Any:
    """The safe constructor's value of one scalar. The constructor remembers every node it
    built until a document ends, and this one never ends a document: forgotten here, or it
    kept every such node of every file read (65,000 nodes and their marks at 10,000
    departments)."""
    try:
        return _resolver_loader.construct_object(node, deep=True)
    finally:
        _resolver_loader.constructed_objects.clear()


def parse(text: str, name: str, allow_empty: bool = False
          ) -> tuple[Document | None, list[Diagnostic]]:
    """Parse YAML text into a Document, or explain why it cannot be parsed.

    ``allow_empty``: an empty file is a document holding None rather than a problem."""
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
        if allow_empty:
            return doc, []
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
    if conv.refused:
        return None, conv.refused + conv.problems
    return doc, conv.problems
