"""`market_indices`: the KOSPI and KOSDAQ composite index of each KRX trading day."""

import time
from collections.abc import Iterator
from datetime import date

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    multi_asset,
)

from adelie_assets import markdown
from adelie_assets.calendar import parse_partition_key, trading_day_partitions
from adelie_assets.defs.freshness import MARKET_DATA_FRESHNESS
from adelie_assets.defs.keys import MARKET_INDICES
from adelie_assets.defs.market.assets import KRX_BACKFILL_POLICY
from adelie_assets.defs.market.index_checks import MARKET_INDICES_CHECKS
from adelie_assets.lib.history import HISTORY_TAGS
from adelie_assets.lib.partitioned_checks import CheckEvent, check_results, check_specs, stored_check_results
from adelie_assets.lib.validate import record_refused, replace_validated
from adelie_assets.resources.krx import KRX
from adelie_assets.resources.krx_indices import INDICES
from adelie_assets.resources.warehouse import Warehouse, market_indices_table

MARKET_INDICES_SCHEMA = TableSchema(
    columns=[
        TableColumn("trade_date", "date", description="KRX trading day (partition key)."),
        TableColumn("index_name", "string", description="KOSPI or KOSDAQ (the composite index)."),
        TableColumn("open", "float", description="Index points, 2 decimals."),
        TableColumn("high", "float", description="Index points, 2 decimals."),
        TableColumn("low", "float", description="Index points, 2 decimals."),
        TableColumn("close", "float", description="Index points, 2 decimals."),
        TableColumn("change_pct", "float", description="Change vs. previous close, percent (KRX's)."),
        TableColumn("volume", "bigint", description="Shares traded in the index's stocks."),
        TableColumn("trading_value", "bigint", description="KRW traded in the index's stocks."),
        TableColumn("market_cap", "bigint", description="KRW market capitalisation of the index's stocks."),
    ]
)


def indices_preview(frame: pd.DataFrame) -> str:
    headers = ["date", "index", "close", "change %", "trading value (KRW)"]
    rows = [
        [r.trade_date, r.index_name, f"{r.close:,.2f}", f"{r.change_pct:+.2f}", f"{r.trading_value:,}"]
        for r in frame.sort_values(["trade_date", "index_name"]).itertuples()
    ]
    return markdown.table(headers, rows)


def day_metadata(frame: pd.DataFrame, day: date, warehouse: Warehouse) -> dict[str, object]:
    """What the materialization of one day records when its range run fails on another day."""
    rows = frame[frame["trade_date"] == day]
    closes = {f"{row.index_name.lower()}_close": round(float(row.close), 2) for row in rows.itertuples()}
    return {"dagster/row_count": len(rows), **closes, "warehouse": warehouse.describe()}


@multi_asset(
    name="market_indices",
    specs=[
        AssetSpec(
            MARKET_INDICES,
            freshness_policy=MARKET_DATA_FRESHNESS,
            tags=HISTORY_TAGS,
            group_name="market",
            kinds={"python", "sql"},
            owners=["team:data-engineering"],
            metadata={
                "dagster/column_schema": MARKET_INDICES_SCHEMA,
                "source": "KRX (data.krx.co.kr) via pykrx",
            },
            description=(
                "The KOSPI and KOSDAQ composite indices (open, high, low, close, change, volume, value, "
                "market cap) of each KRX trading day, from KRX via pykrx (MDCSTAT00301; one request per "
                "index for the whole range of a run). The run's days are replaced atomically in the "
                "warehouse table `market_indices`, only once the new rows pass the blocking checks (run "
                "before the write)."
            ),
        )
    ],
    # Recorded by this step on the rows it writes; the UI can execute them alone, on the stored rows.
    check_specs=check_specs(MARKET_INDICES_CHECKS),
    can_subset=True,
    partitions_def=trading_day_partitions,
    backfill_policy=KRX_BACKFILL_POLICY,
    pool="krx",
)
def market_indices(
    context: AssetExecutionContext, krx: KRX, warehouse: Warehouse
) -> Iterator[MaterializeResult | CheckEvent]:
    if not context.selected_asset_keys:
        yield from stored_check_results(context, MARKET_INDICES_CHECKS, warehouse)
        return
    # Every key is checked before the first KRX call: a bad range costs no requests.
    days = [parse_partition_key(key) for key in context.partition_keys]
    warehouse.engine()  # an unreachable warehouse fails here, before any KRX request is spent
    started = time.monotonic()
    frame = krx.fetch_indices(days)
    krx_seconds = time.monotonic() - started
    # The checks are evaluated on the new rows first: a day a blocking one fails replaces nothing, and
    # in a range run only that day fails (the others are written and recorded).
    validated = replace_validated(warehouse, market_indices_table, days, frame, MARKET_INDICES_CHECKS, "KRX")
    yield from record_refused(
        context,
        MARKET_INDICES,
        MARKET_INDICES_CHECKS,
        validated,
        len(days),
        lambda day, _rows: day_metadata(frame, day, warehouse),
    )
    written = len(frame)
    context.log.info(
        f"market_indices {days[0]}..{days[-1]}: {written} rows written to {warehouse.describe()}"
    )
    last = frame[frame["trade_date"] == max(days)]
    closes = {f"{row.index_name.lower()}_close": round(float(row.close), 2) for row in last.itertuples()}
    yield MaterializeResult(
        metadata={
            "dagster/row_count": written,
            "dagster/column_schema": MARKET_INDICES_SCHEMA,
            "days": len(days),
            **closes,
            "krx_requests": len(INDICES),  # one per index for the whole range
            "krx_seconds": round(krx_seconds, 3),
            "warehouse": warehouse.describe(),
            "preview": MetadataValue.md(
                (f"The last 5 of {len(days)} days\n\n" if len(days) > 5 else "")
                + indices_preview(frame[frame["trade_date"].isin(sorted(days)[-5:])])
            ),
        }
    )
    yield from check_results(context, MARKET_INDICES_CHECKS, validated.verdicts)
