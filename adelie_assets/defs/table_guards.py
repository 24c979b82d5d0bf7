"""The guarded write of the derived warehouse tables (market_indices, daily_themes, analog_features,
market_analogs): their guards are their assets' blocking check declarations, run on the new rows
before they replace anything (lib/check_guards.py). market_data and historical_cases have their own
guards (defs/market/guards.py, defs/cases/assets.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd
import sqlalchemy as sa
from dagster import AssetKey

from adelie_assets.lib.check_guards import check_guards
from adelie_assets.lib.guards import DataGuardError, Guard, refusal
from adelie_assets.lib.partitioned_checks import DailyCheck
from adelie_assets.resources.warehouse import Warehouse


def declarations() -> list[DailyCheck]:
    """Every check declaration of the derived tables."""
    # The checks modules import the asset modules (which import this one): the declarations are
    # looked up when an asset runs, not when it is defined.
    from adelie_assets.defs.analogs.checks import analog_declarations
    from adelie_assets.defs.market.index_checks import market_indices_declarations

    return [*market_indices_declarations, *analog_declarations]


def guards_of(asset: AssetKey, table: sa.Table) -> tuple[Guard, ...]:
    return check_guards(declarations(), asset, table)


def replace_guarded(
    warehouse: Warehouse,
    asset: AssetKey,
    table: sa.Table,
    days: Sequence[date],
    frame: pd.DataFrame,
    source: str,
) -> int:
    """Replace `days` of `table` with `frame` once every guard of `asset` passed on every day; a failed
    guard fails the step (no retry: the same inputs fail the same way) and replaces nothing."""
    try:
        return warehouse.replace_partition(table, days, frame, guards=guards_of(asset, table), source=source)
    except DataGuardError as exc:
        raise refusal(exc, exc.day) from None
