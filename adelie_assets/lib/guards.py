"""Validate before replace: the guards of a table run on the new rows before they replace anything.

A guard is a named verdict on one day's new rows (the same pure verdicts the asset checks use).
`Warehouse.replace_partition(table, days, frame, guards=...)` runs every guard on every day before
its transaction starts; one failed guard raises `DataGuardError` naming the table, the day, the guard
and what it found (the keys and fields), and the previous rows stay. The same step then records the
verdicts as its asset checks, the record in the UI. How to adopt it: docs/reliability.md, "Validate
before replace".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

import pandas as pd
from dagster import Failure

from adelie_assets.lib.verdicts import Verdict

if TYPE_CHECKING:
    from adelie_assets.resources.warehouse import Warehouse

# The new rows of one day, the day, and the warehouse (for guards that compare with stored rows).
GuardVerdict = Callable[[pd.DataFrame, date, "Warehouse"], Verdict]


class DataGuardError(Exception):
    """New rows failed a guard of their table: a problem of the data, nothing was replaced."""

    def __init__(self, message: str, failed: dict[str, Verdict], day: date | None = None) -> None:
        super().__init__(message)
        self.failed = failed
        self.day = day


@dataclass(frozen=True)
class Guard:
    """A named verdict that must pass before a day's rows are replaced."""

    name: str
    verdict_of: GuardVerdict


def rows_guard(name: str, verdict_of: Callable[[pd.DataFrame], Verdict]) -> Guard:
    """A guard from a verdict on the day's rows alone (e.g. a check's verdict function)."""
    return Guard(name, lambda rows, _day, _warehouse: verdict_of(rows))


def run_guards(
    table: str,
    frame: pd.DataFrame,
    days: Sequence[date],
    guards: Sequence[Guard],
    warehouse: Warehouse,
    source: str = "the source",
) -> None:
    """Raise `DataGuardError` if any guard fails on any day's rows of `frame` (by `trade_date`)."""
    if not guards:
        return
    for day in sorted(days):
        rows = frame[frame["trade_date"] == day] if not frame.empty else frame
        failed = {}
        for guard in guards:
            verdict = guard.verdict_of(rows, day, warehouse)
            if not verdict.passed:
                failed[guard.name] = verdict
        if failed:
            raise guard_error(table, day, failed, source)


def guard_error(
    table: str, day: date, failed: dict[str, Verdict], source: str, store: str = "warehouse"
) -> DataGuardError:
    """The error of `table`'s new rows of `day` refused by the `failed` guards: what each found, and
    that nothing was replaced (`store`: where the rows would have gone)."""
    reasons = " ".join(f"[{name}] {_sentence(verdict.description)}" for name, verdict in failed.items())
    return DataGuardError(
        f"The new {table} rows of {day} were refused before writing: {reasons} "
        f"This is a data problem ({source}), not {_article(store)} {store} problem; nothing was replaced, "
        f"the previous rows of {day} are kept. Re-run the partition once {source} gives correct rows.",
        failed,
        day,
    )


def _sentence(text: str) -> str:
    return text if text.rstrip().endswith((".", "!", "?")) else f"{text.rstrip()}."


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def refusal(exc: Exception, day: object, more: str = "") -> Failure:
    """The step's failure for a data problem (a refused guard, an unreadable answer): a retry of the
    same data would fail the same way, so none is allowed. Metadata: the day and each failed guard."""
    metadata: dict[str, str] = {"refused_day": str(day), "refused_by": type(exc).__name__}
    for name, verdict in getattr(exc, "failed", {}).items():
        metadata[f"guard_{name}"] = verdict.description
    return Failure(f"{exc}{more}", metadata=metadata, allow_retries=False)
