"""What a policy expression can cost, read from its text before it ever runs.

A CEL expression without comprehensions (``all``, ``exists``, ``exists_one``, ``map``,
``filter``) evaluates every part of itself once: its time and memory grow with its own length
and the size of the plan, both capped. Comprehensions multiply: each nested one repeats
everything inside it once per element, so nine nested ``[0, …, 9].all(v, …)`` make 10⁹
steps. So an expression is refused when it is too long or nests comprehensions too deep, and
one that uses any comprehension at all is *unbounded*: the edge evaluates it under a time and
memory budget (``govcloud.estate.rulelimits``).
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LENGTH = 4000
MAX_NESTING = 3
COMPREHENSIONS = frozenset({"all", "exists", "exists_one", "map", "filter"})


@dataclass(frozen=True)
class Shape:
    """How many comprehensions an expression holds, and how deep they nest."""

    comprehensions: int
    nesting: int


def shape(source: str) -> Shape:
    """Count the comprehension calls (``.all(`` …) of ``source`` and their deepest nesting.

    A small scanner, not a parser: it skips string literals (quoted, triple-quoted, raw) and
    tracks brackets, which is all it takes to see where each call's arguments end.
    """
    opened: list[bool] = []  # per open bracket: does it open a comprehension's arguments?
    depth = deepest = count = 0
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c in "'\"":
            i = _after_string(source, i)
            continue
        if c.isalpha() or c == "_":
            j = i
            while j < n and (source[j].isalnum() or source[j] == "_"):
                j += 1
            word, k = source[i:j], j
            while k < n and source[k].isspace():
                k += 1
            if word in COMPREHENSIONS and k < n and source[k] == "(" and _after_dot(source, i):
                count += 1
                depth += 1
                deepest = max(deepest, depth)
                opened.append(True)
                i = k + 1
                continue
            i = j
            continue
        if c in "([{":
            opened.append(False)
        elif c in ")]}" and opened and opened.pop():
            depth -= 1
        i += 1
    return Shape(count, deepest)


def _after_dot(source: str, start: int) -> bool:
    j = start - 1
    while j >= 0 and source[j].isspace():
        j -= 1
    return j >= 0 and source[j] == "."


def _after_string(source: str, start: int) -> int:
    """The index just past the string literal that opens at ``start``."""
    # CEL's prefixes: r (raw) and b (bytes), alone or together in either order (br"\" is
    # raw: its backslash escapes nothing)
    prefix = ""
    j = start
    while j > 0 and len(prefix) < 2 and source[j - 1] in "rRbB":
        prefix = source[j - 1] + prefix
        j -= 1
    if j > 0 and (source[j - 1].isalnum() or source[j - 1] == "_"):
        prefix = ""  # the end of a name (e.g. `attr"`), not a prefix
    raw = "r" in prefix.lower()
    quote = source[start:start + 3] if source[start:start + 3] in ("'''", '"""') \
        else source[start]
    i = start + len(quote)
    while i < len(source):
        if source.startswith(quote, i):
            return i + len(quote)
        i += 1 if raw or source[i] != "\\" else 2
    return len(source)


def problem(source: str) -> tuple[str, str] | None:
    """Why ``source`` may not be evaluated at all (message, fix), if it may not."""
    if len(source) > MAX_LENGTH:
        return (f"is {len(source):,} characters long, over the {MAX_LENGTH:,} allowed",
                "split it into several rules")
    nested = shape(source).nesting
    if nested > MAX_NESTING:
        return (f"nests {nested} comprehensions (all/exists/exists_one/map/filter) inside one "
                f"another; at most {MAX_NESTING} are allowed, as each level multiplies the work "
                "by the length of its list",
                "test one level per rule, or compare sizes instead of pairing every element")
    return None


# --- what an expression reads of the plan --------------------------------------------------

# A tree of the keys read: key → subtree, ``ELEMENT`` for a list's elements, None for a value
# read whole. Handing CEL only these keys gives every expression the same values (converting
# a whole plan into CEL values is most of what evaluating a rule costs).
Reads = dict[str, "Reads | None"]
ELEMENT = "[]"


def _tokens(source: str) -> list[str] | None:
    """Identifiers, numbers and single punctuation marks, strings as one '"' token; None for
    what the scanner does not follow (comments, quoted field names)."""
    out: list[str] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c.isspace():
            i += 1
        elif c in "'\"":
            i = _after_string(source, i)
            if out and out[-1] in ("r", "R", "b", "B"):
                out.pop()  # the prefix of a raw or bytes literal
            out.append('"')
        elif c.isalnum() or c == "_":
            j = i
            while j < n and (source[j].isalnum() or source[j] == "_"):
                j += 1
            out.append(source[i:j])
            i = j
        elif c == "`" or source.startswith("//", i):
            return None
        else:
            out.append(c)
            i += 1
    return out


def reads(source: str, roots: dict[str, tuple[str, ...]]) -> list[tuple[str, ...]] | None:
    """The key paths ``source`` reads below each variable of ``roots`` (a variable → the path
    it stands for: ``plan`` → (), ``item`` → ("servers", ELEMENT)), each read whole: what
    follows a chain of ``.key`` (a method, an index, an operator) may read all of its value.
    ``size(x)`` and ``x.size()`` read only a list's elements, not what they hold. None when a
    variable is read whole (by itself, indexed or called)."""
    tokens = _tokens(source)
    if tokens is None:
        return None
    out: list[tuple[str, ...]] = []
    for i, tok in enumerate(tokens):
        if tok not in roots or (i and tokens[i - 1] == "."):
            continue
        path, j = roots[tok], i + 1
        while tokens[j:j + 1] == ["."] and j + 1 < len(tokens) and _name(tokens[j + 1]) \
                and tokens[j + 2:j + 3] != ["("]:
            path, j = (*path, tokens[j + 1]), j + 2
        if (tokens[max(i - 2, 0):i] == ["size", "("] and tokens[j:j + 1] == [")"]) or \
                tokens[j:j + 4] == [".", "size", "(", ")"]:
            out.append((*path, ELEMENT))
        elif path == roots[tok]:
            return None
        else:
            out.append(path)
    return out


def _name(token: str) -> bool:
    return token[:1].isalpha() or token[:1] == "_"


def tree(paths: list[tuple[str, ...]]) -> Reads:
    """The paths as one tree: a path read whole covers every path below it; a path ending in
    ELEMENT keeps a list's elements (what each holds as other paths say)."""
    root: Reads = {}
    for path in sorted(paths, key=len):
        node = root
        for k, key in enumerate(path):
            last = k == len(path) - 1
            if key not in node:
                node[key] = {} if not last or key == ELEMENT else None
            elif last and key != ELEMENT:
                node[key] = None
            sub = node[key]
            if sub is None:
                break
            node = sub
    return root


def pick(value: object, keys: Reads | None) -> object:
    """``value`` with only the keys of ``keys`` (whole where a shape does not match)."""
    if keys is None:
        return value
    if isinstance(value, dict):
        if ELEMENT in keys:
            return value
        return {k: pick(value[k], sub) for k, sub in keys.items() if k in value}
    if isinstance(value, list):
        if set(keys) != {ELEMENT}:
            return value
        return [pick(v, keys[ELEMENT]) for v in value]
    return value
