"""The rooms of docs/architecture.md are the modules on disk, and imports only run down.

The document's "Rooms" table places every module of ``govcloud/`` in a room and every room
in a layer (a number: higher layers may import lower ones and their own, never a higher one).
This test reads that table and the imports of every module (statically, including imports
inside functions; only ``if TYPE_CHECKING:`` blocks are left out, since they never run) and
fails on a module the document does not place, a module it names that is gone, an import
from a lower layer to a higher one, an import cycle, a module over 600 lines and a function
over 60. The checks are plain functions, each also run on a small made-up graph below, so it
is plain that they can fail.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.support.estate import REPO

DOC = REPO / "docs" / "architecture.md"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 60


# ---- what the document says -------------------------------------------------------------

def rooms_of(text: str) -> dict[str, tuple[int, str]]:
    """``{module: (layer, room)}`` from the "Rooms" table: each row is ``| layer | `room` |
    `module` · `module` … | what it holds |``; ``__init__`` names the room's own face."""
    section = text.split("\n## Rooms\n", 1)[1].split("\n## ", 1)[0]
    placed: dict[str, tuple[int, str]] = {}
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not cells[0].isdigit():
            continue
        layer, room = int(cells[0]), cells[1].strip("`")
        package = room.replace("/", ".")
        for name in re.findall(r"`([\w/]+)`", cells[2]):
            dotted = package if name == "__init__" else f"{package}.{name.replace('/', '.')}"
            dotted = dotted.removesuffix(".__init__")
            assert dotted not in placed, f"{dotted} is placed twice in {DOC.name}"
            placed[dotted] = (layer, room)
    return placed


# ---- what is on disk --------------------------------------------------------------------

def modules_on_disk(root: Path = REPO) -> dict[str, Path]:
    return {".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
            for p in sorted((root / "govcloud").rglob("*.py"))}


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for n in ast.walk(node)}
    return skip


def imports_of(path: Path, known: Iterable[str]) -> set[str]:
    """The govcloud modules ``path`` imports: ``from a.b import c`` is ``a.b.c`` when ``c`` is
    a module, else ``a.b`` (whose names it uses)."""
    known = set(known)
    tree = ast.parse(path.read_text())
    skip = _type_checking_nodes(tree)
    out: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for a in node.names:
                sub = f"{node.module}.{a.name}"
                out.add(sub if sub in known else node.module)
    return out & known


def import_graph(disk: Mapping[str, Path]) -> dict[str, set[str]]:
    return {m: imports_of(p, disk) - {m} for m, p in disk.items()}


# ---- the checks -------------------------------------------------------------------------

def unplaced(disk: Iterable[str], placed: Iterable[str]) -> tuple[list[str], list[str]]:
    """(modules on disk the document does not place, modules it places that are not on disk)."""
    disk, placed = set(disk), set(placed)
    return sorted(disk - placed), sorted(placed - disk)


def upward(graph: Mapping[str, set[str]], layer: Mapping[str, int]) -> list[str]:
    """Every import from a module to one of a higher layer."""
    return [f"{m} (layer {layer[m]}) imports {d} (layer {layer[d]})"
            for m in sorted(graph) for d in sorted(graph[m]) if layer[d] > layer[m]]


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            v, edges = work[-1]
            w = next(edges, None)
            if w is not None:
                if w not in index:
                    index[w] = low[w] = len(index)
                    stack.append(w)
                    on_stack.add(w)
                    work.append((w, iter(sorted(graph.get(w, ())))))
                elif w in on_stack:
                    low[v] = min(low[v], index[w])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[v])
            if low[v] == index[v]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    component.append(w)
                    if w == v:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def too_long(disk: Mapping[str, Path]) -> list[str]:
    out = []
    for module, path in disk.items():
        text = path.read_text()
        if text.count("\n") > MAX_MODULE_LINES:
            out.append(f"{module}: {text.count(chr(10))} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (node.end_lineno or node.lineno) - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    out.append(f"{module}.{node.name} (line {node.lineno}): {lines} lines "
                               f"(at most {MAX_FUNCTION_LINES})")
    return out


# ---- on the real code -------------------------------------------------------------------

def test_every_module_on_disk_is_placed_by_the_document_and_no_other() -> None:
    extra, gone = unplaced(modules_on_disk(), rooms_of(DOC.read_text()))
    assert extra == [], f"place these modules in the Rooms table of {DOC.name}"
    assert gone == [], f"{DOC.name} places modules that do not exist"


def test_imports_run_only_down_the_layers() -> None:
    placed = rooms_of(DOC.read_text())
    layer = {m: placed[m][0] for m in placed}
    assert upward(import_graph(modules_on_disk()), layer) == []


def test_no_import_cycle_under_govcloud() -> None:
    assert cycles(import_graph(modules_on_disk())) == []


def test_no_module_over_600_lines_and_no_function_over_60() -> None:
    assert too_long(modules_on_disk()) == []


def test_create_app_only_assembles() -> None:
    tree = ast.parse((REPO / "govcloud/portal/app.py").read_text())
    (app,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "create_app"]
    assert (app.end_lineno or 0) - app.lineno + 1 < 40


# ---- the checks can fail ----------------------------------------------------------------

def test_the_checks_fail_on_a_made_up_estate_of_modules(tmp_path: Path) -> None:
    doc = ("# x\n\n## Rooms\n\n| layer | room | modules | holds |\n|---|---|---|---|\n"
           "| 2 | `pkg/top` | `__init__` · `a` | the top |\n"
           "| 1 | `pkg/low` | `b` · `gone` | the bottom |\n\n## After\n")
    placed = rooms_of(doc)
    assert placed == {"pkg.top": (2, "pkg/top"), "pkg.top.a": (2, "pkg/top"),
                      "pkg.low.b": (1, "pkg/low"), "pkg.low.gone": (1, "pkg/low")}
    assert unplaced(["pkg.top", "pkg.top.a", "pkg.low.b", "pkg.low.c"], placed) == (
        ["pkg.low.c"], ["pkg.low.gone"])
    layer = {m: v[0] for m, v in placed.items()}
    down = {"pkg.top": set(), "pkg.top.a": {"pkg.low.b"}, "pkg.low.b": set()}
    assert upward(down, layer) == []
    up = {**down, "pkg.low.b": {"pkg.top.a"}}
    assert upward(up, layer) == ["pkg.low.b (layer 1) imports pkg.top.a (layer 2)"]
    assert cycles(up) == [["pkg.low.b", "pkg.top.a"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set(), "d": {"d"}}) == []
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "x": {"y"}, "y": {"x"}}) == [
        ["a", "b", "c"], ["x", "y"]]
    (tmp_path / "govcloud").mkdir()
    (tmp_path / "govcloud" / "m.py").write_text(
        "import os\nfrom typing import TYPE_CHECKING\nfrom govcloud import n\n"
        "from govcloud.p import thing\n"
        "if TYPE_CHECKING:\n    from govcloud import o\n"
        "def f():\n    from govcloud.n import thing\n" + "    x = 1\n" * 60)
    (tmp_path / "govcloud" / "n.py").write_text("thing = 1\n" * 601)
    (tmp_path / "govcloud" / "o.py").write_text("")
    (tmp_path / "govcloud" / "p").mkdir()
    (tmp_path / "govcloud" / "p" / "__init__.py").write_text("from govcloud.p import q\n")
    (tmp_path / "govcloud" / "p" / "q.py").write_text("from govcloud.p import thing\n")
    disk = modules_on_disk(tmp_path)
    assert import_graph(disk) == {"govcloud.m": {"govcloud.n", "govcloud.p"},
                                  "govcloud.n": set(), "govcloud.o": set(),
                                  "govcloud.p": {"govcloud.p.q"}, "govcloud.p.q": {"govcloud.p"}}
    assert cycles(import_graph(disk)) == [["govcloud.p", "govcloud.p.q"]]
    assert too_long(disk) == ["govcloud.m.f (line 7): 62 lines (at most 60)",
                              "govcloud.n: 601 lines (at most 600)"]
