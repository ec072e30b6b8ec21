"""Paths into parsed YAML/JSON data (mappings and lists), for the fuzz tests that mutate it."""

from __future__ import annotations

from typing import Any

Path_ = tuple[Any, ...]


def paths(value: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every path in ``value``: the root (), each key of a mapping, each index of a list."""
    out = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            out += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += paths(item, (*prefix, i))
    return out


def at(value: Any, path: Path_) -> Any:
    """The value at ``path``."""
    for part in path:
        value = value[part]
    return value
