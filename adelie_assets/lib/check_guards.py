"""The checks of an asset as the guards of its write: evaluated once on the new rows, before they
replace anything, and then recorded as the asset's check results by the same step.

A blocking check that fails on a day refuses the write (nothing is replaced, the step fails naming
the table, the day, the check and what it found); the WARN ones are only recorded. The table being
written is read from the new rows in memory (`table_reader(table)`, staged in `CheckedDays`); other
tables are read from the warehouse. Why: docs/reliability.md, "Validate before replace".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
import sqlalchemy as sa
from dagster import Failure

from adelie_assets.lib.guards import guard_error, refusal
from adelie_assets.lib.partitioned_checks import (
    CheckedDays,
    CheckError,
    DailyCheck,
    DayReader,
    Verdicts,
    evaluate,
    table_reader,
)
from adelie_assets.resources.warehouse import Warehouse


def staged_verdicts(
    declarations: Sequence[DailyCheck],
    warehouse: Warehouse,
    table: sa.Table,
    days: Sequence[date],
    frame: pd.DataFrame,
    read: DayReader | None = None,
) -> Verdicts:
    """The declared checks' verdicts on `frame`, the new rows of `days` of `table` (read by `read`,
    `table_reader(table)` unless told). A blocking check that raises fails the step: nothing written."""
    checked = CheckedDays(list(days), warehouse, staged={read or table_reader(table): frame})
    try:
        return evaluate(declarations, checked, table.name)
    except CheckError as exc:
        written = ", ".join(str(day) for day in sorted(days))
        raise Failure(
            f"{exc}. The new rows of {table.name} for {written} were not written.", allow_retries=False
        ) from exc


def refused_days(
    declarations: Sequence[DailyCheck], verdicts: Verdicts, table: str, source: str
) -> dict[date, Failure]:
    """Each day a blocking check of `declarations` failed on, with the step's failure for it (no
    retry: the same inputs fail the same way), naming each failed check and what it found."""
    refused: dict[date, Failure] = {}
    for day in sorted({day for by_day in verdicts.values() for day in by_day}):
        failed = {
            d.name: verdict
            for d in declarations
            if d.blocking and d.name in verdicts and not (verdict := verdicts[d.name][day]).passed
        }
        if failed:
            refused[day] = refusal(guard_error(table, day, failed, source), day)
    return refused


def refuse_failed_days(
    declarations: Sequence[DailyCheck], verdicts: Verdicts, table: str, source: str
) -> None:
    """Fail the step on the first day a blocking check failed on, if any."""
    refused = refused_days(declarations, verdicts, table, source)
    if refused:
        raise next(iter(refused.values())) from None


def replace_checked(
    warehouse: Warehouse,
    declarations: Sequence[DailyCheck],
    table: sa.Table,
    days: Sequence[date],
    frame: pd.DataFrame,
    source: str,
) -> tuple[int, Verdicts]:
    """Replace `days` of `table` with `frame` once every blocking check of `declarations` passed on
    every day; the rows written and every check's verdicts, for the step to record."""
    verdicts = staged_verdicts(declarations, warehouse, table, days, frame)
    refuse_failed_days(declarations, verdicts, table.name, source)
    return warehouse.replace_partition(table, days, frame, source=source), verdicts
