"""The test pyramid's markers cannot be forgotten: a test that uses a real component's fixture
or ``need()`` without ``real`` and the component's marker fails, saying what to add."""

from __future__ import annotations

import tomllib

import pytest

from tests.support.estate import REPO
from tests.support.pyramid import COMPONENTS, REAL_FIXTURES

# The inner runs load the markers plugin the way tests/conftest.py does; the module is already
# imported by the outer run, hence the warning filter.
INI = """[pytest]
addopts = --strict-markers -p tests.support.pyramid -W ignore::pytest.PytestAssertRewriteWarning
markers =
    real: a real component
    postgres: PostgreSQL
    nginx: nginx
"""

CONFTEST = """
import pytest

@pytest.fixture(scope="session")
def postgres_url():  # named like the suite's real fixture; starts nothing here
    return "postgresql://127.0.0.1:1/none"
"""

TESTS = """
import pytest
from tests.support.components import need

def test_fixture_unmarked(postgres_url):
    pass

@pytest.mark.real
def test_fixture_without_its_component(postgres_url):
    pass

@pytest.mark.real
@pytest.mark.postgres
def test_fixture_marked(postgres_url):
    pass

def test_need_unmarked():
    need("sh", component="nginx")

@pytest.mark.real
@pytest.mark.nginx
def test_need_marked():
    need("sh", component="nginx")

@pytest.mark.nginx
def test_component_without_real():
    pass

def test_pure():
    pass
"""


def test_unmarked_use_of_a_real_component_fails_with_the_fix(
        pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_inner=TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-rfE")
    result.assert_outcomes(passed=3, failed=1, errors=3)
    out = result.stdout.str()
    for message in (
            "test_inner.py::test_fixture_unmarked uses the fixture 'postgres_url' (a real "
            "postgres) but is not marked real, postgres: decorate the test with "
            "@pytest.mark.real @pytest.mark.postgres, or set pytestmark = [pytest.mark.real, "
            "pytest.mark.postgres] in its module",
            "test_inner.py::test_fixture_without_its_component uses the fixture 'postgres_url' "
            "(a real postgres) but is not marked postgres:",
            "test_inner.py::test_need_unmarked needs a real nginx but is not marked real, nginx:",
            "test_inner.py::test_component_without_real is marked nginx but not real:"):
        assert message in out
    passed, _, _ = result.reprec.listoutcomes()  # type: ignore[attr-defined]
    assert {r.nodeid.split("::")[1] for r in passed} == {"test_fixture_marked",
                                                          "test_need_marked", "test_pure"}


def test_the_fast_layer_deselects_what_is_marked_real(pytester: pytest.Pytester) -> None:
    pytester.makeini(INI)
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_inner=TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-m", "not real")
    # what is marked real is left out; the unmarked uses of a real component are not: they
    # fail here, in the fast layer, at once
    result.assert_outcomes(passed=1, failed=1, errors=2, deselected=3)


def test_the_components_are_the_markers_pyproject_registers() -> None:
    options = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["pytest"]
    names = {line.split(":")[0].strip() for line in options["ini_options"]["markers"]}
    assert names - {"real", "slow"} == set(COMPONENTS)
    assert {c for needs in REAL_FIXTURES.values() for c in needs} <= set(COMPONENTS)
