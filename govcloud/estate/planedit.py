"""Edits of a plan file that keep what people wrote: comments, key order, quoting, flow
mappings (ruamel.yaml's round trip). The edits are data (``govcloud.core.requests.Edit``);
this module only carries them out on the text.

What follows an item in the file (a trailing remark, the blank line before the next section)
is kept by ruamel on the item's last line; when an item is appended after it, or it is
deleted, that is moved so the sections stay apart as they were.
"""

from __future__ import annotations

import io
from typing import Any

from govcloud.core.requests import Edit
from govcloud.errors import GovcloudError, MissingExtra


def _yaml() -> Any:
    try:  # imported here: ruamel.yaml is the portal extra, which the CLI alone does not need
        from ruamel.yaml import YAML
    except ImportError as exc:
        raise MissingExtra("requests (edits of plan files)", "portal", "ruamel.yaml") from exc
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # never re-wrap a long line
    y.indent(mapping=2, sequence=4, offset=2)  # how the plans are written
    return y


def _node(value: Any) -> Any:
    """A fresh ruamel node for a new value: block style, like the rest of the file."""
    from ruamel.yaml.comments import CommentedMap, CommentedSeq  # optional: see _yaml

    if isinstance(value, dict):
        m = CommentedMap()
        for k, v in value.items():
            m[k] = _node(v)
        return m
    if isinstance(value, list):
        s = CommentedSeq()
        s.extend(_node(v) for v in value)
        return s
    return value


def _comments(node: Any) -> dict[Any, Any]:
    """ruamel's comments of a collection: key or index -> tokens."""
    return node.ca.items  # type: ignore[no-any-return]


def _block(value: Any) -> bool:
    """A non-empty collection written in block style (one key or item per line)."""
    if not isinstance(value, dict | list) or not value:
        return False
    style: Any = value
    return not style.fa.flow_style()


def _last(node: Any) -> Any:
    return list(node)[-1] if isinstance(node, dict) else len(node) - 1


def _tail(node: Any) -> tuple[Any, Any] | None:
    """Where the comment after a node's last line is kept: the innermost last key or item
    that holds one."""
    while isinstance(node, dict | list) and node:
        last = _last(node)
        if last in _comments(node):
            return node, last
        node = node[last]
    return None


def _end(node: Any) -> tuple[Any, Any] | None:
    """The innermost last key or item of a block collection: where a tail goes."""
    found = None
    while isinstance(node, dict | list) and node:
        last = _last(node)
        found = (node, last)
        if not _block(node[last]):
            break
        node = node[last]
    return found


def _move_tail(old: Any, new: Any) -> None:
    """Move what follows ``old`` to follow ``new`` instead (unless something follows it
    already)."""
    found, end = _tail(old), _end(new)
    if found is None or end is None:
        return
    node, key = found
    token = next((t for t in _comments(node).pop(key) if t is not None), None)
    target, last = end
    if token is None or isinstance(token, list) or last in _comments(target):
        return
    _comments(target)[last] = [None, None, token, None] if isinstance(target, dict) \
        else [token, None]


def _step(node: Any, key: str | int, make: bool) -> Any:
    from ruamel.yaml.comments import CommentedMap  # optional: see _yaml

    if isinstance(key, int):
        if not isinstance(node, list) or not 0 <= key < len(node):
            raise GovcloudError(f"the plan has no item {key} here", "reload and try again")
        return node[key]
    if not isinstance(node, dict):
        raise GovcloudError(f"the plan's {key} is not in a mapping", "fix the plan file first")
    if key not in node:
        if not make:
            raise GovcloudError(f"the plan has no {key}", "reload and try again")
        node[key] = CommentedMap()
    return node[key]


def _delete(holder: Any, held: Any, node: Any, last: Any) -> None:
    if isinstance(node, list) and len(node) == 1 and isinstance(holder, dict):
        # The list's only item: the key goes too (an empty list is the default), and what
        # followed the item follows the key before it.
        keys = list(holder)
        at = keys.index(held)
        if at > 0:
            before = holder[keys[at - 1]]
            _move_tail(node[0], before if _block(before) else holder)
        del holder[held]
        return
    if isinstance(node, list) and last == len(node) - 1 and len(node) > 1:
        _move_tail(node[last], node[last - 1])
    elif isinstance(node, dict) and last in _comments(node):
        _comments(node).pop(last)
    del node[last]


def apply_edits(text: str, edits: list[Edit]) -> str:
    """``text`` with ``edits`` made; every line they do not touch as it was."""
    from ruamel.yaml.comments import CommentedSeq  # optional: see _yaml

    y = _yaml()
    data = y.load(text)
    if not isinstance(data, dict):
        raise GovcloudError("the plan file is not a mapping", "fix the plan file first")
    for e in edits:
        *parents, last = e.path
        node: Any = data
        holder: Any = None
        held: Any = None
        for key in parents:
            holder, held = node, key
            node = _step(node, key, make=e.op != "delete")
        if e.op == "append":
            if not isinstance(node, dict):
                raise GovcloudError("the plan is not a mapping here", "fix the plan file first")
            if node.get(last) is None:
                node[last] = CommentedSeq()
            seq = node[last]
            seq.append(_node(e.value))
            if len(seq) > 1:
                _move_tail(seq[-2], seq[-1])
        elif e.op == "set":
            if not isinstance(node, dict):
                raise GovcloudError(f"the plan's {'.'.join(map(str, parents))} is not a "
                                    "mapping", "fix the plan file first")
            node[last] = _node(e.value)
        else:
            _step(node, last, make=False)
            _delete(holder, held, node, last)
    out = io.StringIO()
    y.dump(data, out)
    return out.getvalue()
