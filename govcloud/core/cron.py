"""A cron schedule's five fields, range-checked as Debian's cron (3.0pl1) reads a line of
/etc/cron.d: the one rule validate and the services' inventory both apply, so that no
department's schedule can make cron ignore a shared file.

Each field is a comma list of items; an item is ``*``, a value or a range ``a-b``, with an
optional step ``/n``. Debian's cron refuses a value outside the field's range, a name where
none is allowed and a step of 0 ("Syntax error, this crontab file will be ignored"); it
quietly reads a backwards range as nothing and a step after a single value as no step at
all. This rule refuses those too: a line means what it says or is refused.
"""

from __future__ import annotations

from dataclasses import dataclass

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class Field:
    """One of the five fields: its name, its range, the names it takes (numbered from
    ``low``)."""

    name: str
    low: int
    high: int
    names: tuple[str, ...] = ()

    def allowed(self) -> str:
        words = f" or {self.names[0]}-{self.names[-1]}" if self.names else ""
        return f"{self.low}-{self.high}{words}"


FIELDS = (Field("minute", 0, 59), Field("hour", 0, 23), Field("day of month", 1, 31),
          Field("month", 1, 12, MONTHS), Field("weekday", 0, 7, WEEKDAYS))

HINT = ("write five fields separated by single spaces: minute 0-59, hour 0-23, day of month "
        "1-31, month 1-12 or jan-dec, weekday 0-7 or sun-sat (0 and 7 are Sunday); each "
        "'*', a value, a range 'a-b' (a ≤ b), a list 'a,b' or a step '*/n' or 'a-b/n' "
        "(n ≥ 1), e.g. '30 2 * * 1-5'")


def problem(schedule: str) -> str | None:
    """Why Debian's cron would refuse (or misread) ``schedule``, naming the field; None when
    it is a five-field schedule cron reads as written."""
    parts = schedule.split(" ")
    if len(parts) != len(FIELDS):
        return (f"a cron schedule has {len(FIELDS)} fields separated by single spaces, "
                f"this one has {len(parts)}")
    for field, text in zip(FIELDS, parts, strict=True):
        for item in text.split(","):
            why = _item(item, field)
            if why:
                return f"{field.name} field {text[:20]!r}: {why}"
    return _never(parts)


# The most days each month has (February's in a leap year)
MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _never(parts: list[str]) -> str | None:
    """Why a well-formed schedule would never run: the days of the month it names fall in
    none of its months (cron runs on either the day of the month or the weekday only when
    both are restricted, so a restricted weekday always runs)."""
    day, month, weekday = parts[2], parts[3], parts[4]
    if day == "*" or weekday != "*":
        return None
    days, months = _values(day, FIELDS[2]), _values(month, FIELDS[3])
    if any(d <= MONTH_DAYS[m - 1] for d in days for m in months):
        return None
    return (f"day of month {day[:20]!r} never falls in month {month[:20]!r}, so cron would "
            "never run it — choose a day every chosen month has (1-28 fits all)")


def _values(text: str, field: Field) -> set[int]:
    """The values a checked field selects."""
    chosen: set[int] = set()
    for item in text.split(","):
        body, _, step = item.partition("/")
        low, dash, high = body.partition("-")
        first = field.low if body == "*" else _value(low, field)[0]
        last = field.high if body == "*" else _value(high, field)[0] if dash else first
        chosen.update(range(first, last + 1, int(step) if step else 1))
    return chosen


def _item(item: str, field: Field) -> str | None:
    body, slash, step = item.partition("/")
    if slash:
        if not (step.isascii() and step.isdigit() and len(step) <= 2) or int(step) == 0:
            return f"the step in {item[:20]!r} must be a whole number from 1 to 99"
        if body != "*" and "-" not in body:
            return (f"{item[:20]!r} steps from a single value, which cron ignores; write a "
                    f"range such as '{body[:2]}-{field.high}/{step}'")
    if body == "*":
        return None
    low, dash, high = body.partition("-")
    first, why = _value(low, field)
    if why or not dash:
        return why
    last, why = _value(high, field)
    if why:
        return why
    if last < first:
        return f"the range {body[:20]!r} runs backwards, so cron would never run it"
    return None


def _value(text: str, field: Field) -> tuple[int, str | None]:
    """A value of the field: a number in its range, or one of its names."""
    if text.isascii() and text.isdigit() and len(text) <= 2:
        number = int(text)
        if field.low <= number <= field.high:
            return number, None
        return number, f"{number} is outside {field.allowed()}"
    if text.lower() in field.names:
        return field.names.index(text.lower()) + field.low, None
    shown = repr(text[:20]) if text else "an empty value"
    return 0, f"{shown} is not a {field.name} ({field.allowed()})"
