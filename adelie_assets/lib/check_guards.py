"""The guards of a table, derived from its asset's blocking check declarations.

Each blocking `DailyCheck` of the asset that writes `table` becomes a `Guard` of the same name: the
check's own `verdicts_of`, evaluated on a `StagedDays` whose `table_reader(table)` returns the NEW
rows (in memory) while every other reader still reads the warehouse. A check and its guard are one
declaration, so they cannot drift apart; non-blocking (WARN) checks only run after the write.
Why and how: docs/reliability.md, "Validate before replace".
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
import sqlalchemy as sa
from dagster import AssetKey

from adelie_assets.lib.guards import Guard
from adelie_assets.lib.partitioned_checks import (
    CheckedDays,
    DailyCheck,
    DayReader,
    rows_by_day,
    table_reader,
)
from adelie_assets.lib.verdicts import Verdict
from adelie_assets.resources.warehouse import Warehouse


class StagedDays(CheckedDays):
    """The days about to be written: `table`'s rows are the new `frame`, other tables the stored rows."""

    def __init__(self, days: list[date], warehouse: Warehouse, table: sa.Table, frame: pd.DataFrame) -> None:
        super().__init__(days, warehouse)
        self.table = table
        self.staged = table_reader(table)
        self._rows[self.staged] = rows_by_day(frame, days)
        self.staged_read = False

    def rows(self, read: DayReader) -> dict[date, pd.DataFrame]:
        if read is self.staged:
            self.staged_read = True
        return super().rows(read)


def check_guards(declarations: Sequence[DailyCheck], asset: AssetKey, table: sa.Table) -> tuple[Guard, ...]:
    """The guards of `table` (written by `asset`): one per blocking declaration of `asset`."""
    return tuple(
        _guard(declaration, table)
        for declaration in declarations
        if declaration.asset.key == asset and declaration.blocking
    )


def _guard(declaration: DailyCheck, table: sa.Table) -> Guard:
    def verdict_of(rows: pd.DataFrame, day: date, warehouse: Warehouse) -> Verdict:
        staged = StagedDays([day], warehouse, table, rows)
        verdict = declaration.verdicts_of(staged)[day]
        if not staged.staged_read:
            # A check that reads its table another way would judge the stored rows, not the new ones.
            raise TypeError(
                f"The check {declaration.name} does not read {table.name} with "
                f"table_reader({table.name}): it cannot guard the write of {table.name}."
            )
        return verdict

    return Guard(declaration.name, verdict_of)
