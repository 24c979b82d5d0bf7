"""`market_data`: every KOSPI and KOSDAQ ticker's quote of one KRX trading day."""

import time
from collections.abc import Iterator
from datetime import date

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetSpec,
    BackfillPolicy,
    DagsterExecutionInterruptedError,
    MaterializeResult,
    MetadataValue,
    TableColumn,
    TableSchema,
    multi_asset,
)

from adelie_assets import markdown
from adelie_assets.calendar import parse_partition_key, trading_day_partitions
from adelie_assets.defs.freshness import MARKET_DATA_FRESHNESS
from adelie_assets.defs.keys import MARKET_DATA
from adelie_assets.defs.market.checks import MARKET_DATA_CHECKS, MARKET_DATA_VALIDATION, READ_MARKET_DATA
from adelie_assets.lib.history import HISTORY_TAGS
from adelie_assets.lib.partitioned_checks import CheckEvent, check_results, check_specs, stored_check_results
from adelie_assets.lib.validate import Validated, record_refused, replace_validated, written_days
from adelie_assets.resources.krx import KRX, KrxClosedDayError, KrxDataError
from adelie_assets.resources.warehouse import Warehouse, WarehouseDataError, market_data_table

MARKET_DATA_SCHEMA = TableSchema(
    columns=[
        TableColumn("trade_date", "date", description="KRX trading day (partition key)."),
        TableColumn("ticker", "string", description="6-digit KRX short code."),
        TableColumn("name", "string", description="KRX abbreviated name."),
        TableColumn("market", "string", description="KOSPI or KOSDAQ (KONEX excluded)."),
        TableColumn("open", "bigint", description="KRW; NULL when halted (KRX reports 0)."),
        TableColumn("high", "bigint", description="KRW; NULL when halted."),
        TableColumn("low", "bigint", description="KRW; NULL when halted."),
        TableColumn("close", "bigint", description="KRW closing price (last close when halted)."),
        TableColumn("volume", "bigint", description="Shares traded."),
        TableColumn("trading_value", "bigint", description="KRW traded."),
        TableColumn("change_pct", "float", description="Change vs. previous close, percent."),
        TableColumn("market_cap", "bigint", description="KRW market capitalisation."),
        TableColumn("halted", "boolean", description="No trade that day (volume 0)."),
    ]
)

# Range-aware: a backfill runs in chunks of days instead of one process per day. The assets
# downstream of KRX replace their chunk at once (a failure costs the chunk's bookkeeping: 25 days).
BACKFILL_POLICY = BackfillPolicy.multi_run(max_partitions_per_run=25)
# The KRX assets refuse a bad day alone and record the days they wrote (lib/validate.py), so a
# failure costs that day whatever the chunk. A year (<= 250 trading days) is one run: the backfill
# then requests every downstream asset in the next daemon loop at once, instead of one layer per
# loop as each of several KRX runs ends (docs/dagster-notes.md). 250 days is ~500 polite KRX
# requests, ~17 min at ~1 s an answer, inside run_monitoring's max_runtime_seconds (1800 s).
KRX_BACKFILL_POLICY = BackfillPolicy.multi_run(max_partitions_per_run=250)


def day_metadata(frame: pd.DataFrame, warehouse: Warehouse) -> dict[str, int | str]:
    """What the materialization of one day records when its range run fails on another day."""
    markets = frame["market"].value_counts()
    return {
        "dagster/row_count": len(frame),
        "rows_kospi": int(markets.get("KOSPI", 0)),
        "rows_kosdaq": int(markets.get("KOSDAQ", 0)),
        "halted_tickers": int(frame["halted"].sum()),
        "warehouse": warehouse.describe(),
    }


def movers_preview(frame: pd.DataFrame, count: int = 5) -> str:
    traded = frame[~frame["halted"]]
    gainers = traded.nlargest(count, "change_pct")
    losers = traded.nsmallest(count, "change_pct")
    headers = ["ticker", "name", "market", "close", "change %", "trading value (KRW)"]

    def rows(part: pd.DataFrame) -> list[list[object]]:
        return [
            [r.ticker, r.name, r.market, f"{r.close:,}", f"{r.change_pct:+.2f}", f"{r.trading_value:,}"]
            for r in part.itertuples()
        ]

    return (
        f"**Top gainers**\n\n{markdown.table(headers, rows(gainers))}\n\n"
        f"**Top losers**\n\n{markdown.table(headers, rows(losers))}"
    )


@multi_asset(
    name="market_data",
    specs=[
        AssetSpec(
            MARKET_DATA,
            freshness_policy=MARKET_DATA_FRESHNESS,
            tags=HISTORY_TAGS,
            group_name="market",
            kinds={"python", "sql"},
            owners=["team:data-engineering"],
            metadata={
                "dagster/column_schema": MARKET_DATA_SCHEMA,
                "source": "KRX (data.krx.co.kr) via pykrx",
            },
            description=(
                "Quotes of every KOSPI and KOSDAQ ticker for one KRX trading day, from KRX via pykrx "
                "(one request per market). Halted tickers are kept with halted=true and NULL "
                "open/high/low. A partition is replaced atomically in the warehouse table `market_data`, "
                "only once the new rows pass the table's guards (the blocking checks, run before the write)."
            ),
        )
    ],
    # The checks are recorded by this step, on the rows it writes; can_subset lets the UI execute
    # them alone, on the stored rows.
    check_specs=check_specs(MARKET_DATA_CHECKS),
    can_subset=True,
    partitions_def=trading_day_partitions,
    backfill_policy=KRX_BACKFILL_POLICY,
    pool="krx",
)
def market_data(
    context: AssetExecutionContext, krx: KRX, warehouse: Warehouse
) -> Iterator[MaterializeResult | CheckEvent]:
    if not context.selected_asset_keys:
        yield from stored_check_results(context, MARKET_DATA_CHECKS, warehouse)
        return
    # Every key is checked before the first KRX call: a bad range costs no requests.
    days = [parse_partition_key(key) for key in context.partition_keys]
    warehouse.engine()  # an unreachable warehouse fails here, before any KRX request is spent
    krx_seconds = 0.0
    last_frame = pd.DataFrame()
    # Each day is validated and written on its own; a range run's day that fails for its data is
    # refused alone (the run goes on with the next day), so a failure costs that day only.
    validated = Validated()
    written: dict[date, dict[str, int | str]] = {}
    for day in days:
        started = time.monotonic()
        try:
            frame = krx.fetch_day(day)
            krx_seconds += time.monotonic() - started
            # Before the write, as the previous day's count the row-count checks compare with is the
            # stored one. A blocking check that fails refuses the day: nothing replaced.
            day_validated = replace_validated(
                warehouse, market_data_table, [day], frame, MARKET_DATA_VALIDATION, "KRX", READ_MARKET_DATA
            )
        except (KrxDataError, WarehouseDataError, KrxClosedDayError) as exc:
            # A data problem (a retry of the same answer fails the same way), or a day without prices
            # (a closure the calendar lacks: the next days may be fine). A one-day run raises the
            # latter as it is.
            if isinstance(exc, KrxClosedDayError) and len(days) == 1:
                raise
            validated.refused[day] = exc
            continue
        except (Exception, DagsterExecutionInterruptedError):
            # KRX or the warehouse unusable (a lost login, a ban, an outage past the retries): the
            # next days would fail the same way, and more KRX requests risk a ban. Or the run was
            # terminated (run_monitoring's max_runtime, a terminate in the UI), which Dagster raises
            # in the step as an interrupt. Either way the days already written are recorded.
            yield from written_days(context, MARKET_DATA, written, MARKET_DATA_CHECKS, validated.verdicts)
            raise
        validated.add(day_validated)
        if day in day_validated.written:
            written[day] = day_metadata(frame, warehouse)
            context.log.info(f"market_data {day}: {len(frame)} rows written to {warehouse.describe()}")
            last_frame = frame
    yield from record_refused(
        context, MARKET_DATA, MARKET_DATA_CHECKS, validated, len(days), lambda day, _rows: written[day]
    )

    # The run's totals, from what each day recorded.
    def summed(key: str) -> int:
        return sum(int(day_written[key]) for day_written in written.values())

    rows_by_day = {day.isoformat(): int(m["dagster/row_count"]) for day, m in written.items()}
    metadata: dict[str, object] = {
        "dagster/row_count": summed("dagster/row_count"),
        "dagster/column_schema": MARKET_DATA_SCHEMA,
        "days": len(days),
        # A range run (backfill) records the same metadata on each of its partitions: the totals
        # above are the run's; this map says what each day got.
        "rows_by_day": MetadataValue.json(rows_by_day),
        "rows_kospi": summed("rows_kospi"),
        "rows_kosdaq": summed("rows_kosdaq"),
        "halted_tickers": summed("halted_tickers"),
        "krx_seconds": round(krx_seconds, 3),
        "warehouse": warehouse.describe(),
        "preview": MetadataValue.md(
            (f"Top movers of {days[-1]} (last day of {len(days)})\n\n" if len(days) > 1 else "")
            + movers_preview(last_frame)
        ),
    }
    yield MaterializeResult(metadata=metadata)
    yield from check_results(context, MARKET_DATA_CHECKS, validated.verdicts)
