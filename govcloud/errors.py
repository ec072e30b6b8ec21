"""One exception root, and diagnostics collected rather than raised one at a time."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    """One problem found in the estate: what is wrong, where, and how to fix it."""

    file: str
    line: int
    path: str
    message: str
    hint: str = ""
    severity: Severity = "error"
    rule: str = ""

    def render(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        key = f" {self.path}:" if self.path else ""
        level = "" if self.severity == "error" else " warning:"
        rule = f" [{self.rule}]" if self.rule else ""
        hint = f" — {self.hint}" if self.hint else ""
        return f"{where}:{level}{key} {self.message}{hint}{rule}"

    def as_dict(self) -> dict[str, object]:
        return {
            "file": self.file,
            "line": self.line,
            "path": self.path,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
            "rule": self.rule,
        }


class GovcloudError(Exception):
    """Root of every error govcloud reports to a user as one plain sentence."""

    hint: str = ""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        if hint:
            self.hint = hint

    def render(self) -> str:
        text = str(self)
        return f"{text} — {self.hint}" if self.hint else text


@dataclass
class ValidationFailed(GovcloudError):
    """The estate has errors; every one of them is in ``diagnostics``."""

    diagnostics: list[Diagnostic] = field(default_factory=list)

    def __post_init__(self) -> None:
        errors = sum(1 for d in self.diagnostics if d.severity == "error")
        super().__init__(f"{errors} error(s) in the estate")

    def render(self) -> str:
        return "\n".join(d.render() for d in self.diagnostics)


class MissingExtra(GovcloudError):
    """A part of govcloud installed as an extra (openstack, services, xlsx, postgres) is used,
    but its packages are not installed; the hint names the pip command that adds them."""

    def __init__(self, feature: str, extra: str, missing: str, instead: str = "") -> None:
        fix = f"pip install 'govcloud[{extra}]'" + (f", or {instead}" if instead else "")
        super().__init__(f"{feature} needs {missing}, which is not installed", fix)
        self.extra = extra


class StateError(GovcloudError):
    """The state store cannot be opened or is not what govcloud expects."""


class DamagedState(StateError):
    """A row of the state store cannot be read: names its table and key."""

    def __init__(self, message: str, hint: str, table: str, key: str) -> None:
        super().__init__(message, hint)
        self.table = table
        self.key = key


class LockHeld(GovcloudError):
    """Another apply holds the state store's lock."""


class StalePlan(GovcloudError):
    """A saved plan was made against a state that has moved on since."""


class PlanMismatch(GovcloudError):
    """A saved plan differs from the plan the current plans, policies and cloud give."""


class DriverError(GovcloudError):
    """The cloud refused or failed a change; retryable tells whether trying again may help."""

    def __init__(self, message: str, hint: str = "", retryable: bool = False) -> None:
        super().__init__(message, hint)
        self.retryable = retryable


class CapacityError(DriverError):
    """No host can take a server: names the department and what is short."""
