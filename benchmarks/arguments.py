"""Argument types the benchmarks share: each refuses a value that would make a run mean
nothing, with argparse's usage line and a reason (exit 2), before anything is generated or
started. Found trying #24 as an operator: a comparison checkout that did not exist silently
measured the installed govcloud under its name, and a zero, a negative number or a file
given as a folder ended in a traceback after minutes of preparation."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path


def count(least: int = 1) -> Callable[[str], int]:
    """A whole number of at least ``least``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{value} is less than {least}")
        return value
    return parse


def seconds(text: str) -> float:
    """A number of seconds above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not value > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"{text} seconds: give more than 0")
    return value


def counts(least: int = 1) -> Callable[[str], list[int]]:
    """Comma-separated whole numbers, each at least ``least`` (``100,1000``)."""
    one = count(least)

    def parse(text: str) -> list[int]:
        parts = [p.strip() for p in text.split(",")]
        if not all(parts):
            raise argparse.ArgumentTypeError(f"{text!r}: give numbers separated by commas")
        return [one(p) for p in parts]
    return parse


def choices(allowed: tuple[str, ...]) -> Callable[[str], list[str]]:
    """Comma-separated names, each one of ``allowed``."""
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.split(",")]
        bad = [n for n in names if n not in allowed]
        if bad or not names:
            raise argparse.ArgumentTypeError(
                f"{', '.join(bad) or repr(text)}: choose from {', '.join(allowed)}")
        return names
    return parse


def checkout(text: str) -> Path:
    """A govcloud checkout: a folder holding ``govcloud/__init__.py`` (else the installed
    govcloud would run under its name)."""
    path = Path(text).expanduser().resolve()
    if not (path / "govcloud" / "__init__.py").is_file():
        raise argparse.ArgumentTypeError(
            f"{text} is not a govcloud checkout (no govcloud/__init__.py there)")
    return path


def folder(text: str) -> Path:
    """A folder to work in: one that exists, or none yet (not a file)."""
    path = Path(text).expanduser()
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a file, not a folder")
    return path


def estate(text: str) -> Path:
    """An estate's folder: it holds govcloud.yaml."""
    path = Path(text).expanduser()
    if not (path / "govcloud.yaml").is_file():
        raise argparse.ArgumentTypeError(f"{text} is not an estate (no govcloud.yaml there)")
    return path
