"""Closing a month, reopening it, adjusting a department's charge, and publishing a closed
month: the explicit, audited operations on the books (every one leaves a row in the state
store's finance audit trail with who, when, why and the digest of what was frozen)."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from pathlib import Path

from govcloud.books import accounts
from govcloud.books import records as stored
from govcloud.clock import now, stamp
from govcloud.core.model import Estate
from govcloud.core.patterns import check_line
from govcloud.errors import GovcloudError
from govcloud.estate.files import write_bytes
from govcloud.estate.organisations import tree_at
from govcloud.finance import usage
from govcloud.finance.chargeback import Adjustment, Statement
from govcloud.finance.closing import Closing, cited_lines, digest
from govcloud.finance.period import Month
from govcloud.finance.rerate import Rating, Rerate
from govcloud.finance.rerate import diff as rate_diff
from govcloud.finance.rollup import roll_up
from govcloud.finance.savings import ledger
from govcloud.state.store import Store, holder_id


def close(estate: Estate, store: Store, month: Month, by: str | None = None,
          source: str = "cli") -> Closing:
    """Freeze every figure of a finished month: later price or plan edits cannot change it.
    ``by`` is who closes it (default: this process's user and host); the close is recorded in
    the finance audit trail and the audit trail (``govcloud audit``)."""
    if stored.closing(store, month) is not None:
        raise GovcloudError(f"{month} is already closed",
                            "a closed month cannot change; reopen it (govcloud statement "
                            "reopen) or adjust a later month")
    win = accounts.window(month)
    if win.month_to_date:
        raise GovcloudError(f"{month} is not over yet ({win.label()})",
                            f"close it after {month.end:%Y-%m-%d}")
    run = usage.hours_run(accounts.records_for(store, month))
    if run and run[0] < run[1]:
        raise GovcloudError(f"the usage of {month} was collected before it ended ({run[0]} of "
                            f"{run[1]} hours)", f"govcloud usage collect --period {month}, "
                            "then close it")
    m = accounts.figures(estate, store, month)
    path = estate.root / estate.settings.prices
    text = path.read_text(encoding="utf-8")
    cites = [x.source for p in m.statement.pools for x in p.lines]
    cites += [s for _, s in m.statement.rates.values()]  # what a re-rate after a reopen reads
    cites += [x.price_source for d in m.ledger.departments for x in d.legacy]
    cites += list(m.ledger.assumptions)
    by, at = by or holder_id(), now()
    st = replace(m.statement, closed_at=at)
    c = Closing(month, st, m.ledger, m.utilization, m.names, m.title,
                digest(text.encode("utf-8")),
                cited_lines(cites, {estate.settings.prices: text}), at, by)
    try:
        stored.save_closing(store, c, source)
    except Exception:  # the period's row is the key: another close got there first
        if stored.closing(store, month) is not None:
            raise GovcloudError(f"{month} is already closed (closed meanwhile by another "
                                "close)", "reload: a closed month cannot change") from None
        raise
    return c


def rerate(estate: Estate, store: Store, month: Month, reason: str | None = None
           ) -> tuple[Rerate, Rating]:
    """Rate an open month with today's price book and usage, against its last recorded
    rating (or the figures it had when closed, after a reopen). With a ``reason`` the new
    rating is recorded and audited; without, nothing is written (a dry run)."""
    if stored.closing(store, month) is not None:
        raise GovcloudError(f"{month} is closed; its figures cannot change",
                            f"govcloud statement reopen --period {month} --reason … first")
    accounts.window(month)  # refuses a month not yet begun
    st = accounts.statement_for(estate, store, month)
    led = accounts.savings_for(estate, store, month, st)  # what the next close would freeze
    text = (estate.root / estate.settings.prices).read_text(encoding="utf-8")
    cites = [x.source for p in st.pools for x in p.lines] + [s for _, s in st.rates.values()]
    cites += [x.price_source for d in led.departments for x in d.legacy]
    new = Rating(st, digest(text.encode("utf-8")),
                 cited_lines(cites, {estate.settings.prices: text}), now(), holder_id(),
                 "rerate", led)
    change = rate_diff(stored.last_rating(store, month), new)
    if reason is not None:
        if not reason.strip():
            raise GovcloudError("a re-rate needs a reason", "give --reason \"…\" (it is "
                                "audited)")
        check_line(reason)
        stored.save_rating(store, month, new, reason.strip())
    return change, new


OLD_FORMAT_NOTE = ("closed by an earlier govcloud, which froze the chargeback only: the "
                   "chargeback is as frozen then; savings, utilization and names were frozen "
                   "when this version first opened the store; the price book it used was not "
                   "recorded")


def migrate(estate: Estate, store: Store) -> list[Month]:
    """Bring months closed by an earlier govcloud (the bare chargeback statement) to this
    version's format, so they stay closed and render: the statement as it was frozen (its
    usage pools' items from today's price book, where a pool of that name and rule is
    there), and the savings, utilization and names computed now and frozen from now on;
    audited as "migrate". The months brought over; a month that cannot be (no usage left to
    rebuild its utilization) is left as it is and says so when read."""
    done: list[Month] = []
    old = stored.old_closings(store)
    if not old:
        return done
    book = accounts.book_for(estate)
    pools = {(p.name, p.rule): p.items for p in book.pools}
    for month, body, closed_at, closed_by in old:
        st = Statement.from_dict(body)
        st = replace(st, closed_at=closed_at, pools=tuple(
            replace(p, items=pools.get((p.name, p.rule), ()) if p.rule == "usage" else ())
            for p in st.pools), notes=(*st.notes, OLD_FORMAT_NOTE))
        try:
            util = accounts.utilization_of(estate, store, month)
        except GovcloudError:
            continue
        led = ledger(estate.plans, book, st, accounts.line_of(estate))
        c = Closing(month, st, led, util, accounts.names_of(estate), estate.settings.estate,
                    "not recorded (closed by an earlier govcloud)", {}, closed_at, closed_by)
        stored.replace_closing(store, c, OLD_FORMAT_NOTE, holder_id())
        done.append(month)
    return done


def reopen(store: Store, month: Month, reason: str) -> Closing:
    if not reason.strip():
        raise GovcloudError("a reopen needs a reason", "give --reason \"…\" (it is audited)")
    check_line(reason)
    c = stored.reopen(store, month, reason, holder_id())
    if c is None:
        raise GovcloudError(f"{month} is not closed", "nothing to reopen")
    return c


def adjust(estate: Estate, store: Store, month: Month, department: str, yuan: str,
           reason: str, credit_balance: str | None = None) -> Adjustment:
    """A credit (negative) or debit (positive) on a department's charge in an open month,
    for a department billed that month (one that has left the estate since included). A
    credit that would leave the bill below zero needs ``credit_balance``: why that is meant."""
    if stored.closing(store, month) is not None:
        raise GovcloudError(f"{month} is closed", "adjust the current month instead, or "
                            f"reopen {month} first")
    amount = _amount(yuan)
    if not reason.strip():
        raise GovcloudError("an adjustment needs a reason", "give --reason \"…\"")
    check_line(reason)
    if credit_balance is not None:
        check_line(credit_balance, "the reason for a credit balance")
    accounts.window(month)
    st = accounts.statement_for(estate, store, month)
    billed = sorted(accounts.allocated_for(store, month).by_department)
    if department not in billed:
        raise GovcloudError(f"'{department}' was not billed in {month}",
                            f"adjust a department billed that month, one of: "
                            f"{', '.join(billed)}")
    before = st.charge(department)
    if amount < 0 and before + amount < 0:  # a credit into a balance; a debit never is
        if credit_balance is None:
            raise GovcloudError(
                f"--yuan {amount} would leave {department}'s bill for {month} at "
                f"{before + amount:,.2f} yuan (charge {before:,.2f} so far): a credit balance",
                f"credit at most {before:,.2f}, or, if a credit balance is meant, add "
                "--allow-credit-balance \"why\"")
        if not credit_balance.strip():
            raise GovcloudError("--allow-credit-balance needs a reason",
                                "say why the bill may go below zero, e.g. "
                                "--allow-credit-balance \"refund of the March overcharge\"")
        reason = f"{reason.strip()} (credit balance allowed: {credit_balance.strip()})"
    a = Adjustment(department, amount, reason.strip(), holder_id(), now())
    stored.add_adjustment(store, month, a)
    return a


# One adjustment is less than a trillion yuan either way: every report (text, JSON, HTML,
# the release's CSV and JSON) then carries it exactly to the fen.
LARGEST = Decimal(10) ** 12


def _amount(yuan: str) -> Decimal:
    """``--yuan``: a plain non-zero decimal to the fen (no exponent, infinity, NaN,
    underscores or hex)."""
    try:
        if not re.fullmatch(r"[+-]?[0-9]+(\.[0-9]+)?", yuan.strip()):
            raise InvalidOperation
        amount = Decimal(yuan.strip())
    except InvalidOperation:
        raise GovcloudError(f"--yuan {yuan!r} is not an amount",
                            "write yuan to the fen, e.g. -120.50 for a credit") from None
    if abs(amount) >= LARGEST:
        raise GovcloudError(f"--yuan {yuan.strip()} is beyond what one adjustment may be "
                            f"(less than {LARGEST:,} yuan either way)",
                            "check the amount; a larger one is several adjustments")
    if amount != amount.quantize(Decimal("0.01")) or not amount:
        raise GovcloudError(f"--yuan {yuan} is not a non-zero amount to the fen",
                            "e.g. --yuan -120.50 (credit) or --yuan 80 (debit)")
    return amount.quantize(Decimal("0.01"))  # kept and shown to the fen: -600 as -600.00


def publish(store: Store, month: Month, folder: Path, by_organisation: bool = False
            ) -> list[Path]:
    """Write a closed month's open-data release into ``folder``; ``by_organisation``: with
    its table per organisation, rolled up the tree recorded by the month's end."""
    from govcloud.reports.publish import department_figures, release

    c = stored.closing(store, month)
    if c is None:
        accounts.window(month)  # a month not begun cannot be closed: say that instead
        raise GovcloudError(f"{month} is not closed; open figures can still change",
                            f"govcloud statement close --period {month}, then publish")
    levels = None
    if by_organisation:
        levels, _ = roll_up(tree_at(store, stamp(month.end)),
                            department_figures(c.statement, c.ledger), c.estate)
    files = release(c.estate, c.names, c.statement, c.ledger, c.book_digest, levels)
    for name, data in files.items():
        write_bytes(folder / name, data)
    data_name = f"spending-and-savings-{month}.csv"
    stored.audit(store, month, "publish", "", holder_id(), digest(files[data_name]),
                 after={"folder": str(folder), "files": sorted(files),
                        "statement": c.body_digest()})
    return [folder / name for name in files]
