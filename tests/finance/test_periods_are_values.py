"""Periods travel as values below the CLI and the portal (issue #19): no function under
``govcloud/`` outside ``govcloud/cli`` and ``govcloud/portal`` takes a period as text, and no
value carries one as text — a dataclass field is a constructor's parameter too, so the figures
frozen as JSON hold a ``Month`` and write it as text only in ``as_dict``.

Text meets a period only where it is parsed (the CLI's options, the portal's paths, a stored
figure read back) or stored and written (``books.records``, JSON, CSV), by ``Month.parse`` and
``str(month)``."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from tests.support.estate import REPO

EDGES = ("govcloud/cli", "govcloud/portal")  # where a period is parsed from text
# Names a period goes by, as a parameter or a field (``since`` is a timestamp where it is
# used, not a month).
PERIOD_NAMES = {"period", "month", "start", "end", "first", "last", "upto", "latest",
                "from_month", "to_month"}


def _is_period(name: str) -> bool:
    return name in PERIOD_NAMES or name.endswith(("_period", "_month"))


def _says_str(annotation: ast.expr | None) -> bool:
    """``str``, ``str | None``, ``Optional[str]``… (text, or text as an option)."""
    if annotation is None:
        return False
    if isinstance(annotation, ast.Constant) and isinstance(annotation.value, str):
        return _says_str(ast.parse(annotation.value, mode="eval").body)
    return any(isinstance(n, ast.Name) and n.id == "str" for n in ast.walk(annotation)) \
        and not any(isinstance(n, ast.Name) and n.id in ("list", "tuple", "dict", "set")
                    for n in ast.walk(annotation))


def text_periods(source: str, where: str) -> Iterator[str]:
    """Every parameter and every dataclass field in ``source`` that takes a period as
    text, as ``where:line name``."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            a = node.args
            for arg in (*a.posonlyargs, *a.args, *a.kwonlyargs):
                if _is_period(arg.arg) and _says_str(arg.annotation):
                    yield f"{where}:{arg.lineno} {node.name}({arg.arg}: str)"
        elif isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name) \
                        and _is_period(item.target.id) and _says_str(item.annotation):
                    yield f"{where}:{item.lineno} {node.name}.{item.target.id}: str"


def below_the_edge() -> Iterator[tuple[str, str]]:
    for path in sorted((REPO / "govcloud").rglob("*.py")):
        where = path.relative_to(REPO).as_posix()
        if not where.startswith(EDGES):
            yield where, path.read_text(encoding="utf-8")


def test_no_period_travels_as_text_below_the_cli_and_the_portal() -> None:
    found = [hit for where, source in below_the_edge() for hit in text_periods(source, where)]
    assert found == [], ("a period taken as text below the edge — take a "
                         "govcloud.finance.period.Month (parse it where the text comes in): "
                         + "; ".join(found))


def test_the_check_finds_a_period_as_text_wherever_it_is_written() -> None:
    source = '''
from dataclasses import dataclass

def report(store, period: str, detail: bool = False): ...
def window(*, upto: str | None = None): ...
async def collect(start: "str", since: str): ...
def fine(month: Month, name: str, periods: list[str]): ...

@dataclass
class Figures:
    period: str
    title: str

class Statement:
    period: str
'''
    assert list(text_periods(source, "x.py")) == [
        "x.py:4 report(period: str)", "x.py:5 window(upto: str)",
        "x.py:6 collect(start: str)", "x.py:11 Figures.period: str",
        "x.py:15 Statement.period: str"]
    # No class is let off, not even one whose figures are frozen as JSON.
    assert list(text_periods(source, "govcloud/finance/chargeback.py"))[-1] == \
        "govcloud/finance/chargeback.py:15 Statement.period: str"
