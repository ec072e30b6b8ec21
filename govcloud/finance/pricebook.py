"""The price book: what each billed item costs a month, and what the shared platform costs.

Pure: ``load`` reads one YAML file into frozen values and collects every problem with its
file, line and key path (the same ``schema.check`` walker the plans use). Every price is
effective-dated: an entry applies from its month (``from: 2026-07``) until the next entry, so
a price added later never changes a past period. Money is ``Decimal`` yuan throughout.

Every figure keeps the line it came from (``Price.source``), so a report can say which price
line produced each number.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from govcloud.core.documents import Document, Path_, dotted
from govcloud.core.schema import arr_of, check, num_of, obj_of, str_of, with_defaults
from govcloud.errors import Diagnostic, ValidationFailed
from govcloud.finance.period import Month

PERIOD = r"^[0-9]{4}-(0[1-9]|1[0-2])$"  # [0-9], not \d: JSON Schema's regexes are ECMA-262

# Billed items: what a department is metered on, per month.
ITEMS: tuple[str, ...] = ("vcpu", "ram_gb", "disk_gb", "volume_gb", "website", "backup_gb",
                          "antivirus_seat")
ITEM_LABELS = {"vcpu": "vCPU", "ram_gb": "RAM GiB", "disk_gb": "root disk GB",
               "volume_gb": "volume GB", "website": "website", "backup_gb": "backup GB",
               "antivirus_seat": "antivirus seat"}
RULES = ("even", "usage", "weight")

_DATED = arr_of("Effective-dated values: each applies from its month until the next.",
              obj_of("One dated value.", {
                  "from": str_of("First month it applies, YYYY-MM.", PERIOD),
                  "yuan": num_of("Yuan (per unit per month, or per month for a pool).", 0),
              }, ["from", "yuan"]), minItems=1)

_MACHINE_FIELDS = {
    "purchase_yuan": num_of("Purchase price in yuan, amortised over 'years'.", 0),
    "years": num_of("Years the purchase is written off over.", 0.5, 30),
    "power_w": num_of("Average electrical draw in watts.", 0, 100_000),
    "maintenance_yuan_per_year": num_of("Maintenance contract and spares, yuan a year.", 0,
                                    default=0),
}


def _changes(what: str, fields: dict[str, Any]) -> dict[str, Any]:
    """``changes``: later values of some of ``fields``, each from its month until the next."""
    return arr_of(f"Effective-dated changes to {what}: each entry sets the fields it names "
                  "from its month until a later entry (the values above apply before the "
                  "first).", obj_of("One change.", {
                      "from": str_of("First month it applies, YYYY-MM.", PERIOD),
                      **{k: {key: v for key, v in f.items() if key != "default"}
                         for k, f in fields.items()}}, ["from"]), default=[])


_MACHINE = obj_of("The cost of one physical server of a class.", {
    **_MACHINE_FIELDS, "changes": _changes("this class's cost", _MACHINE_FIELDS),
}, ["purchase_yuan", "years", "power_w"])
_PUE_FIELDS = {
    "pue": num_of("Power usage effectiveness of the data centre (cooling overhead).", 1, 5,
                  default=1.5),
    "legacy_pue": num_of("PUE of departments' own server rooms.", 1, 5, default=2.0),
}
_STAFF_FIELDS = {
    "admin_yuan_per_year": num_of("Cost of one full-time server administrator a year "
                                  "(salary and on-costs).", 0),
    "legacy_website_yuan_per_year": num_of("What a department paid a year to host one "
                                           "website itself (hosting, certificates).", 0,
                                           default=0),
}

PRICE_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://govcloud.example/schema/price-book.json",
    "title": "govcloud price book",
    **obj_of("Unit prices, platform costs and the legacy baseline's costs, in yuan.", {
        "currency": {"type": "string", "enum": ["CNY"], "default": "CNY",
                     "description": "Currency of every figure (yuan)."},
        "units": obj_of("Rate card: yuan per unit per month for each billed item.", {
            item: {**_DATED, "description": f"Yuan per {ITEM_LABELS[item]} per month."}
            for item in ITEMS
        }, list(ITEMS)),
        "power": obj_of("Electricity.", {
            "tariff": {**arr_of("Yuan per kWh, effective-dated.", obj_of("One tariff.", {
                "from": str_of("First month it applies, YYYY-MM.", PERIOD),
                "yuan_per_kwh": num_of("Yuan per kWh.", 0, 100),
            }, ["from", "yuan_per_kwh"]), minItems=1)},
            **_PUE_FIELDS, "changes": _changes("pue and legacy_pue", _PUE_FIELDS),
        }, ["tariff"]),
        "host_classes": {"type": "object", "description": "Shared host classes (as in "
                         "govcloud.yaml host_pool.classes) → their cost.",
                         "additionalProperties": _MACHINE},
        "legacy_classes": {"type": "object", "description": "Legacy server classes used by "
                           "plans' legacy.servers → their cost.",
                           "additionalProperties": _MACHINE},
        "staff": obj_of("People.", {
            **_STAFF_FIELDS, "changes": _changes("staff costs", _STAFF_FIELDS),
        }, ["admin_yuan_per_year"]),
        "pools": arr_of("Shared platform cost pools and how each is split.", obj_of("A pool.", {
            "name": str_of("Pool name.", r"^[a-z][a-z0-9-]{0,38}[a-z0-9]$"),
            "description": str_of("What is in it.", r"^[^\x00-\x1f]*$", default=""),
            "cost": {"type": "string", "enum": ["hosts", "fixed"], "default": "fixed",
                     "description": "hosts: computed from host_classes and the host pool; "
                                    "fixed: yuan_per_month."},
            "yuan_per_month": {**_DATED, "description": "Monthly cost (fixed pools)."},
            "rule": {"type": "string", "enum": list(RULES),
                     "description": "even: equal shares; usage: in proportion to priced "
                                    "usage of 'items', unused capacity shown as idle; "
                                    "weight: in proportion to 'weights'."},
            "items": arr_of("Billed items whose priced usage drives a usage split.",
                          {"type": "string", "enum": list(ITEMS),
                           "description": "A billed item."}, default=[]),
            "capacity": {"type": "object", "description": "Capacity of items that are not "
                         "host resources (e.g. backup_gb), so their unused part is idle.",
                         "additionalProperties": num_of("Units.", 0), "default": {}},
            "weights": {"type": "object", "description": "Department id → weight (weight "
                        "rule); departments not listed weigh 'default_weight'.",
                        "additionalProperties": num_of("Weight.", 0), "default": {}},
            "default_weight": num_of("Weight of departments not in 'weights'.", 0, default=1),
        }, ["name", "rule"]), minItems=1),
        "budgets": {"type": "object", "default": {},
                    "description": "Department id → its yearly budgets for the shared cloud "
                                   "(the exporter's year-to-date spend is alerted against "
                                   "them: docs/prometheus/govcloud-alerts.yml).",
                    "additionalProperties": arr_of("Budgets by year.", obj_of("One year.", {
                        "year": {"type": "integer", "minimum": 2000, "maximum": 2100,
                                 "description": "Calendar year."},
                        "yuan": num_of("Budget for the year, yuan.", 0),
                    }, ["year", "yuan"]))},
    }, ["units", "power", "host_classes", "legacy_classes", "staff", "pools"]),
}
PRICE_SCHEMA.pop("description", None)
PRICE_SCHEMA["description"] = "Unit prices, platform costs and legacy costs, in yuan."

HOURS_PER_MONTH = Decimal(730)  # 8,760 hours / 12
HOURS_PER_YEAR = Decimal(8760)


def D(value: Any) -> Decimal:
    """A YAML number as an exact Decimal (via its text, so 0.85 stays 0.85)."""
    return value if isinstance(value, Decimal) else Decimal(str(value))


@dataclass(frozen=True)
class Source:
    """Where a figure came from: file, line and key path."""

    file: str
    line: int
    path: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line} {self.path}"


@dataclass(frozen=True)
class Dated:
    """One effective-dated value."""

    start: Month
    yuan: Decimal
    source: Source


@dataclass(frozen=True)
class PriceChange:
    """Fields that take new values from a month on."""

    start: Month
    values: dict[str, Decimal]
    source: Source


def as_of(base: dict[str, Decimal], base_source: Source, changes: tuple[PriceChange, ...],
          month: Month) -> tuple[dict[str, Decimal], Source]:
    """The values in force in ``month``: the base, then every change from before it."""
    out, src = dict(base), base_source
    for c in changes:  # sorted by start at load time
        if c.start > month:
            break
        out.update(c.values)
        src = c.source
    return out, src


@dataclass(frozen=True)
class Machine:
    name: str
    purchase_yuan: Decimal
    years: Decimal
    power_w: Decimal
    maintenance_yuan_per_year: Decimal
    source: Source
    changes: tuple[PriceChange, ...] = ()

    def as_of(self, month: Month) -> Machine:
        base = {"purchase_yuan": self.purchase_yuan, "years": self.years,
                "power_w": self.power_w,
                "maintenance_yuan_per_year": self.maintenance_yuan_per_year}
        v, src = as_of(base, self.source, self.changes, month)
        return Machine(self.name, v["purchase_yuan"], v["years"], v["power_w"],
                       v["maintenance_yuan_per_year"], src)

    def amortisation_per_year(self) -> Decimal:
        return self.purchase_yuan / self.years

    def power_kwh_per_year(self, pue: Decimal) -> Decimal:
        return self.power_w * HOURS_PER_YEAR * pue / 1000


@dataclass(frozen=True)
class Pool:
    name: str
    description: str
    cost: str  # hosts | fixed
    yuan_per_month: tuple[Dated, ...]
    rule: str
    items: tuple[str, ...]
    capacity: dict[str, Decimal]
    weights: dict[str, Decimal]
    default_weight: Decimal
    source: Source


@dataclass(frozen=True)
class Price:
    """A value in force for a month, with the line it came from."""

    yuan: Decimal
    source: Source


@dataclass(frozen=True)
class PriceBook:
    file: str
    units: dict[str, tuple[Dated, ...]]
    tariff: tuple[Dated, ...]
    pue: Decimal
    legacy_pue: Decimal
    host_classes: dict[str, Machine]
    legacy_classes: dict[str, Machine]
    admin_yuan_per_year: Price
    legacy_website_yuan_per_year: Price
    pools: tuple[Pool, ...]
    power_changes: tuple[PriceChange, ...] = ()
    staff_changes: tuple[PriceChange, ...] = ()
    budgets: dict[str, dict[int, Price]] = field(default_factory=dict)
    pue_sources: tuple[Source, Source] = (Source("prices.yaml", 0, "power.pue"),
                                          Source("prices.yaml", 0, "power.legacy_pue"))

    def host_class(self, name: str, month: Month) -> Machine:
        return self.host_classes[name].as_of(month)

    def legacy_class(self, name: str, month: Month) -> Machine:
        return self.legacy_classes[name].as_of(month)

    def pue_for(self, month: Month, legacy: bool = False) -> Price:
        key = "legacy_pue" if legacy else "pue"
        v, src = as_of({"pue": self.pue, "legacy_pue": self.legacy_pue},
                       self.pue_sources[legacy],
                       tuple(c for c in self.power_changes if key in c.values), month)
        return Price(v[key], src)

    def staff_for(self, month: Month, key: str = "admin_yuan_per_year") -> Price:
        base = {"admin_yuan_per_year": self.admin_yuan_per_year.yuan,
                "legacy_website_yuan_per_year": self.legacy_website_yuan_per_year.yuan}
        first = self.admin_yuan_per_year if key == "admin_yuan_per_year" \
            else self.legacy_website_yuan_per_year
        v, src = as_of(base, first.source,
                       tuple(c for c in self.staff_changes if key in c.values), month)
        return Price(v[key], src)

    def unit(self, item: str, month: Month) -> Price:
        """The price of one unit of ``item`` in ``month``."""
        return in_force(self.units[item], month, f"units.{item}")

    def rates(self, month: Month) -> dict[str, Price]:
        return {item: self.unit(item, month) for item in ITEMS}

    def tariff_for(self, month: Month) -> Price:
        return in_force(self.tariff, month, "power.tariff")

    def pool_cost(self, pool: Pool, month: Month) -> Price:
        return in_force(pool.yuan_per_month, month, f"pools.{pool.name}.yuan_per_month")


class NoPrice(ValidationFailed):
    """No price is in force for a period (it is before the first effective date)."""


def in_force(entries: tuple[Dated, ...], month: Month, what: str) -> Price:
    """The last entry whose month is not after ``month``."""
    found: Dated | None = None
    for e in entries:  # sorted by start at load time
        if e.start <= month:
            found = e
        else:
            break
    if found is None:
        first = entries[0] if entries else None
        where = first.source if first else Source("prices.yaml", 0, what)
        raise NoPrice(diagnostics=[Diagnostic(
            where.file, where.line, what, f"no price in force for {month} (the first one "
            f"applies from {first.start if first else 'never'})",
            f"add an entry with 'from: {month}' or earlier")])
    return Price(found.yuan, found.source)


def month_of(text: str) -> Month:
    """A ``from:`` month the schema checked (YYYY-MM) as a :class:`Month`, whatever its year
    (``Month.parse`` is for what a person types, and refuses years no usage has)."""
    return Month(int(text[:4]), int(text[5:7]))


@dataclass(frozen=True)
class _Reading:
    """One price book document being read into values: where each key path is, and the
    problems found on the way (appended to ``problems``, in the order they are met)."""

    doc: Document
    problems: list[Diagnostic]

    def src(self, path: Path_) -> Source:
        return Source(self.doc.file, self.doc.line(path), dotted(path))

    def problem(self, path: Path_, message: str, fix: str) -> None:
        self.problems.append(self.doc.diag(path, message, fix))

    def dated(self, entries: list[dict[str, Any]], path: Path_, key: str = "yuan"
              ) -> tuple[Dated, ...]:
        out = [Dated(month_of(e["from"]), D(e[key]), self.src((*path, i)))
               for i, e in enumerate(entries)]
        seen: dict[Month, int] = {}
        for i, e in enumerate(out):
            if e.start in seen:
                self.problem((*path, i, "from"), f"two prices from {e.start} (also entry "
                             f"{seen[e.start]})", "keep one entry per month")
            seen[e.start] = i
        return tuple(sorted(out, key=lambda e: e.start))

    def changes(self, entries: list[dict[str, Any]], path: Path_) -> tuple[PriceChange, ...]:
        out = [PriceChange(month_of(e["from"]), {k: D(v) for k, v in e.items() if k != "from"},
                           self.src((*path, i))) for i, e in enumerate(entries)]
        seen: set[Month] = set()
        for i, c in enumerate(out):
            if c.start in seen:
                self.problem((*path, i, "from"), f"two changes from {c.start}",
                             "merge them into one entry")
            seen.add(c.start)
        return tuple(sorted(out, key=lambda c: c.start))

    def machines(self, data: dict[str, Any], key: str) -> dict[str, Machine]:
        return {n: Machine(n, D(m["purchase_yuan"]), D(m["years"]), D(m["power_w"]),
                           D(m["maintenance_yuan_per_year"]), self.src((key, n)),
                           self.changes(m["changes"], (key, n, "changes")))
                for n, m in data[key].items()}

    def pools(self, entries: list[dict[str, Any]]) -> tuple[Pool, ...]:
        names: set[str] = set()
        out = []
        for i, p in enumerate(entries):
            path: Path_ = ("pools", i)
            if p["name"] in names:
                self.problem((*path, "name"), f"duplicate pool '{p['name']}'",
                             "give each pool its own name")
            names.add(p["name"])
            self.check_pool(p, path)
            out.append(Pool(p["name"], p["description"], p["cost"],
                            self.dated(p.get("yuan_per_month", []), (*path, "yuan_per_month")),
                            p["rule"], tuple(p["items"]),
                            {k: D(v) for k, v in p["capacity"].items()},
                            {k: D(v) for k, v in p["weights"].items()},
                            D(p["default_weight"]), self.src(path)))
        return tuple(out)

    def check_pool(self, p: dict[str, Any], path: Path_) -> None:
        """What the schema cannot say of one pool: its cost, rule, items and weights agree."""
        if p["cost"] == "fixed" and "yuan_per_month" not in p:
            self.problem(path, "a fixed pool needs yuan_per_month",
                         "add 'yuan_per_month: [{from: 2026-01, yuan: 1000}]'")
        if p["cost"] == "hosts" and "yuan_per_month" in p:
            self.problem((*path, "yuan_per_month"), "a hosts pool is computed from "
                         "host_classes", "remove yuan_per_month or set cost: fixed")
        if p["rule"] == "usage" and not p["items"]:
            self.problem((*path, "rule"), "a usage split needs items", "add 'items: [vcpu, "
                         "ram_gb]' (the billed items whose priced usage drives the split)")
        if p["rule"] != "weight" and p["weights"]:
            self.problem((*path, "weights"), "weights only apply to rule: weight",
                         "remove weights or set rule: weight")

    def check_classes(self, data: dict[str, Any], host_classes: set[str] | None,
                      legacy_classes: set[str] | None) -> None:
        """Every host and legacy class the estate uses has a price."""
        for key, wanted in (("host_classes", host_classes), ("legacy_classes", legacy_classes)):
            for cls in sorted(wanted or ()):
                if cls not in data[key]:
                    self.problem((key,), f"no price for {key[:-2]} '{cls}' used by the estate",
                                 f"add '{cls}: {{purchase_yuan: …, "
                                 "years: 5, power_w: …}}'")


def parse_book(doc: Document, host_classes: set[str] | None = None,
               legacy_classes: set[str] | None = None
               ) -> tuple[PriceBook | None, list[Diagnostic]]:
    """The price book in ``doc``, with every problem found (None when the schema refuses
    it)."""
    problems = check(doc, PRICE_SCHEMA)
    if problems:
        return None, problems
    data = with_defaults(doc.data, PRICE_SCHEMA)
    r = _Reading(doc, problems)
    units = {item: r.dated(data["units"][item], ("units", item)) for item in ITEMS}
    power, staff = data["power"], data["staff"]
    tariff = r.dated(power["tariff"], ("power", "tariff"), "yuan_per_kwh")
    pools = r.pools(data["pools"])
    r.check_classes(data, host_classes, legacy_classes)
    book = PriceBook(
        file=doc.file, units=units, tariff=tariff, pue=D(power["pue"]),
        legacy_pue=D(power["legacy_pue"]),
        host_classes=r.machines(data, "host_classes"),
        legacy_classes=r.machines(data, "legacy_classes"),
        admin_yuan_per_year=Price(D(staff["admin_yuan_per_year"]),
                                  r.src(("staff", "admin_yuan_per_year"))),
        legacy_website_yuan_per_year=Price(D(staff["legacy_website_yuan_per_year"]),
                                           r.src(("staff", "legacy_website_yuan_per_year"))),
        pools=pools,
        power_changes=r.changes(power["changes"], ("power", "changes")),
        staff_changes=r.changes(staff["changes"], ("staff", "changes")),
        pue_sources=(r.src(("power", "pue")), r.src(("power", "legacy_pue"))),
        budgets={dep: {b["year"]: Price(D(b["yuan"]), r.src(("budgets", dep, i)))
                       for i, b in enumerate(years)}
                 for dep, years in data["budgets"].items()})
    return book, problems
