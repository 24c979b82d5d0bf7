"""Data-quality checks of `market_data`, read back from the warehouse for the checked trading day(s).

How partitioned checks work in Dagster 1.13 (verified on 1.13.27, see tests/test_checks.py)
------------------------------------------------------------------------------------------
* `@asset_check(partitions_def=...)` exists (a preview feature; the PreviewWarning is silenced in
  `adelie_assets/defs/__init__.py`). The check step runs in the same run as the asset and its
  context carries the run's partition(s): `context.partition_key` for a one-day run,
  `context.partition_keys` for a range run (a backfill chunk of `BACKFILL_POLICY`).
* For a one-day run a plain `AssetCheckResult` is recorded against that partition (the UI shows the
  result per partition, linked to the day's materialization).
* For a range run Dagster would record ONE result with no partition and leave every day's planned
  evaluation dangling. So `day_results` then yields one `AssetCheckEvaluation` per day (with its
  partition) plus the check's output: each day gets its own result in the UI.
* `blocking=True` + severity ERROR: a failed result fails the check step (DagsterAssetCheckFailedError),
  Dagster does not execute `historical_cases` ("Dependencies for step historical_cases failed") and the
  run fails, so the failure alert fires. In a range run one bad day stops `historical_cases` for the
  whole chunk, which then fails as a whole, as with any failed step.
* `AssetSelection.assets(...)` (the `daily_pipeline` job) includes the checks of those assets.

Thresholds are deliberately loose: KRX lists ~950 KOSPI and ~1,700 KOSDAQ tickers, listings and
delistings move the count by a handful a day, and only new listings may move beyond the ±30 % limit.
"""

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

import pandas as pd
from dagster import (
    AssetCheckEvaluation,
    AssetCheckExecutionContext,
    AssetCheckResult,
    AssetChecksDefinition,
    AssetCheckSeverity,
    Failure,
    Output,
    asset_check,
)

from adelie_assets.calendar import PARTITION_KEY_FORMAT, previous_trading_day, trading_day_partitions
from adelie_assets.defs.market.assets import market_data
from adelie_assets.resources.warehouse import Warehouse, market_data_table

MARKETS = ("KOSPI", "KOSDAQ")
MIN_ROWS_PER_MARKET = 500
MAX_ROWS_PER_MARKET = 3_000
ROW_COUNT_CHANGE_LIMIT = 0.05  # share of the previous trading day's rows
PRICE_LIMIT_PCT = 30.0  # KRX daily price limit since 2015
LIMIT_BREACH_SHARE = 0.01  # share of traded tickers allowed beyond the limit (new listings)
EXAMPLES = 10

CheckEvent = AssetCheckResult | AssetCheckEvaluation | Output


@dataclass(frozen=True)
class Verdict:
    """One check's outcome for one trading day."""

    passed: bool
    description: str
    metadata: dict[str, object] = field(default_factory=dict)


def checked_days(context: AssetCheckExecutionContext) -> list[date]:
    if not (context.has_partition_key or context.has_partition_key_range):
        raise Failure(
            "This check reads one trading day from the warehouse: run it with a partition "
            "(a KRX trading day, YYYY-MM-DD) or a partition range.",
            allow_retries=False,
        )
    return [datetime.strptime(key, PARTITION_KEY_FORMAT).date() for key in context.partition_keys]


def day_results(
    context: AssetCheckExecutionContext,
    verdicts: Mapping[date, Verdict],
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
) -> Iterator[CheckEvent]:
    """One result per checked day; see the module docstring for why ranges are reported by hand."""
    if context.has_partition_key and len(verdicts) == 1:
        (verdict,) = verdicts.values()
        yield AssetCheckResult(
            passed=verdict.passed,
            severity=severity,
            description=verdict.description,
            metadata=verdict.metadata,
        )
        return
    (spec,) = context.check_specs
    yield Output(None, output_name=context.op_def.output_defs[0].name)
    for day, verdict in sorted(verdicts.items()):
        yield AssetCheckEvaluation(
            asset_key=spec.asset_key,
            check_name=spec.name,
            passed=verdict.passed,
            severity=severity,
            description=verdict.description,
            metadata=verdict.metadata,
            blocking=spec.blocking,
            partition=day.strftime(PARTITION_KEY_FORMAT),
        )


def _by_day(frame: pd.DataFrame, days: list[date]) -> dict[date, pd.DataFrame]:
    if frame.empty:
        return {day: frame for day in days}
    return {day: frame[frame["trade_date"] == day] for day in days}


def _run_daily(
    context: AssetCheckExecutionContext,
    warehouse: Warehouse,
    verdict_of: Callable[[pd.DataFrame], Verdict],
    severity: AssetCheckSeverity = AssetCheckSeverity.ERROR,
) -> Iterator[CheckEvent]:
    days = checked_days(context)
    rows = _by_day(warehouse.read_market_data(days), days)
    yield from day_results(context, {day: verdict_of(rows[day]) for day in days}, severity)


def _traded(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[~rows["halted"].astype(bool)]


def examples(tickers: pd.Series) -> str:
    """The first few values, sorted, for a description that stays short."""
    shown = sorted(str(t) for t in tickers)[:EXAMPLES]
    more = len(tickers) - len(shown)
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


# --- the verdicts (pure: one day's rows in, verdict out) ----------------------------------------


def markets_covered_verdict(rows: pd.DataFrame) -> Verdict:
    counts = (
        {m: int((rows["market"] == m).sum()) for m in MARKETS}
        if not rows.empty
        else dict.fromkeys(MARKETS, 0)
    )
    bad = {m: n for m, n in counts.items() if not MIN_ROWS_PER_MARKET <= n <= MAX_ROWS_PER_MARKET}
    metadata: dict[str, object] = {
        "rows_kospi": counts["KOSPI"],
        "rows_kosdaq": counts["KOSDAQ"],
        "rows_total": len(rows),
        "plausible_range_per_market": f"{MIN_ROWS_PER_MARKET}-{MAX_ROWS_PER_MARKET}",
    }
    if bad:
        found = ", ".join(f"{m} {n} rows" for m, n in bad.items())
        return Verdict(
            False,
            f"Implausible ticker counts ({found}; expected {MIN_ROWS_PER_MARKET}-{MAX_ROWS_PER_MARKET} "
            "per market): KRX answered partially or a market is missing. Re-run the partition.",
            metadata,
        )
    return Verdict(True, f"KOSPI {counts['KOSPI']} and KOSDAQ {counts['KOSDAQ']} tickers.", metadata)


def unique_keys_verdict(rows: pd.DataFrame) -> Verdict:
    duplicated = rows[rows.duplicated(["trade_date", "ticker"], keep=False)] if not rows.empty else rows
    keys = duplicated["ticker"].drop_duplicates() if not duplicated.empty else pd.Series(dtype=str)
    metadata: dict[str, object] = {"rows": len(rows), "duplicated_keys": len(keys)}
    if len(keys):
        metadata["examples"] = examples(keys)
        return Verdict(
            False, f"{len(keys)} (trade_date, ticker) keys appear more than once: {examples(keys)}.", metadata
        )
    return Verdict(True, f"All {len(rows)} (trade_date, ticker) keys are unique.", metadata)


def prices_consistent_verdict(rows: pd.DataFrame) -> Verdict:
    traded = _traded(rows)
    prices = traded[["open", "high", "low", "close"]].apply(pd.to_numeric, errors="coerce")
    missing = prices.isna().any(axis=1) | (prices <= 0).any(axis=1)
    disordered = (prices["low"] > prices[["open", "close"]].min(axis=1)) | (
        prices[["open", "close"]].max(axis=1) > prices["high"]
    )
    # A halted ticker keeps its last close, so its close must be a price too.
    close = pd.to_numeric(rows["close"], errors="coerce")
    bad_close = rows.loc[close.isna() | (close <= 0), "ticker"]
    missing_tickers = pd.concat([traded.loc[missing, "ticker"], bad_close]).drop_duplicates()
    disordered_tickers = traded.loc[disordered & ~missing, "ticker"]
    bad = pd.concat([missing_tickers, disordered_tickers]).drop_duplicates()
    metadata: dict[str, object] = {
        "traded_tickers": len(traded),
        "missing_or_non_positive_prices": len(missing_tickers),
        "low_open_close_high_violations": len(disordered_tickers),
    }
    if len(bad):
        metadata["examples"] = examples(bad)
        return Verdict(
            False,
            f"{len(bad)} tickers have missing, non-positive or inconsistent prices "
            f"(need low <= open, close <= high): {examples(bad)}.",
            metadata,
        )
    return Verdict(True, f"Prices of all {len(traded)} traded tickers are positive and consistent.", metadata)


def not_all_zero_verdict(rows: pd.DataFrame) -> Verdict:
    traded = _traded(rows)
    volume = int(pd.to_numeric(rows["volume"], errors="coerce").fillna(0).sum())
    value = int(pd.to_numeric(rows["trading_value"], errors="coerce").fillna(0).sum())
    metadata: dict[str, object] = {
        "rows": len(rows),
        "traded_tickers": len(traded),
        "total_volume": volume,
        "total_trading_value_krw": value,
    }
    if rows.empty or traded.empty or volume == 0 or value == 0:
        return Verdict(
            False,
            "No trading at all on a KRX trading day (no traded ticker, zero volume or zero value): "
            "KRX served a closed-day answer. Re-run once KRX has the day's data.",
            metadata,
        )
    return Verdict(True, f"{len(traded)} tickers traded {value:,} KRW.", metadata)


def row_count_change_verdict(rows: pd.DataFrame, previous_rows: int, previous_day: date) -> Verdict:
    metadata: dict[str, object] = {
        "rows": len(rows),
        "previous_day": previous_day.isoformat(),
        "previous_rows": previous_rows,
        "limit_pct": ROW_COUNT_CHANGE_LIMIT * 100,
    }
    if previous_rows == 0:
        return Verdict(True, f"No rows of {previous_day} in the warehouse to compare with.", metadata)
    change = (len(rows) - previous_rows) / previous_rows
    metadata["change_pct"] = round(change * 100, 2)
    if abs(change) > ROW_COUNT_CHANGE_LIMIT:
        return Verdict(
            False,
            f"{len(rows)} rows vs {previous_rows} on {previous_day} ({change:+.1%}, limit "
            f"±{ROW_COUNT_CHANGE_LIMIT:.0%}): a market may be partly missing.",
            metadata,
        )
    return Verdict(True, f"{len(rows)} rows vs {previous_rows} on {previous_day} ({change:+.1%}).", metadata)


def price_limit_verdict(rows: pd.DataFrame) -> Verdict:
    traded = _traded(rows)
    change = pd.to_numeric(traded["change_pct"], errors="coerce").abs()
    beyond = traded.loc[change > PRICE_LIMIT_PCT, "ticker"]
    share = len(beyond) / len(traded) if len(traded) else 0.0
    metadata: dict[str, object] = {
        "traded_tickers": len(traded),
        "beyond_limit": len(beyond),
        "beyond_limit_share_pct": round(share * 100, 2),
        "allowed_share_pct": LIMIT_BREACH_SHARE * 100,
    }
    if len(beyond):
        metadata["examples"] = examples(beyond)
    if share > LIMIT_BREACH_SHARE:
        return Verdict(
            False,
            f"{len(beyond)} of {len(traded)} traded tickers ({share:.1%}) moved beyond the "
            f"±{PRICE_LIMIT_PCT:.0f}% daily limit, more than new listings explain: check change_pct parsing.",
            metadata,
        )
    return Verdict(True, f"{len(beyond)} tickers beyond ±{PRICE_LIMIT_PCT:.0f}% ({share:.2%}).", metadata)


# --- the checks --------------------------------------------------------------------------------


@asset_check(
    asset=market_data,
    name="markets_covered",
    blocking=True,
    partitions_def=trading_day_partitions,
    description=f"Both KOSPI and KOSDAQ have {MIN_ROWS_PER_MARKET}-{MAX_ROWS_PER_MARKET} tickers.",
)
def markets_covered(context: AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[CheckEvent]:
    yield from _run_daily(context, warehouse, markets_covered_verdict)


@asset_check(
    asset=market_data,
    name="unique_keys",
    blocking=True,
    partitions_def=trading_day_partitions,
    description="No (trade_date, ticker) appears twice.",
)
def unique_keys(context: AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[CheckEvent]:
    yield from _run_daily(context, warehouse, unique_keys_verdict)


@asset_check(
    asset=market_data,
    name="prices_consistent",
    blocking=True,
    partitions_def=trading_day_partitions,
    description="Every traded ticker has positive prices with low <= open, close <= high; every close > 0.",
)
def prices_consistent(context: AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[CheckEvent]:
    yield from _run_daily(context, warehouse, prices_consistent_verdict)


@asset_check(
    asset=market_data,
    name="not_all_zero",
    blocking=True,
    partitions_def=trading_day_partitions,
    description="The day has traded tickers with non-zero total volume and value.",
)
def not_all_zero(context: AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[CheckEvent]:
    yield from _run_daily(context, warehouse, not_all_zero_verdict)


@asset_check(
    asset=market_data,
    name="row_count_stable",
    partitions_def=trading_day_partitions,
    description=(
        f"WARN when the row count moves more than ±{ROW_COUNT_CHANGE_LIMIT:.0%} from the previous "
        "trading day's rows in the warehouse."
    ),
)
def row_count_stable(context: AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[CheckEvent]:
    days = checked_days(context)
    rows = _by_day(warehouse.read_market_data(days), days)
    verdicts = {}
    for day in days:
        previous = previous_trading_day(day)
        verdicts[day] = row_count_change_verdict(
            rows[day], warehouse.count_rows(market_data_table, previous), previous
        )
    yield from day_results(context, verdicts, AssetCheckSeverity.WARN)


@asset_check(
    asset=market_data,
    name="within_price_limit",
    partitions_def=trading_day_partitions,
    description=(
        f"WARN when more than {LIMIT_BREACH_SHARE:.0%} of traded tickers moved beyond the "
        f"±{PRICE_LIMIT_PCT:.0f}% daily price limit."
    ),
)
def within_price_limit(context: AssetCheckExecutionContext, warehouse: Warehouse) -> Iterator[CheckEvent]:
    yield from _run_daily(context, warehouse, price_limit_verdict, AssetCheckSeverity.WARN)


market_data_checks: list[AssetChecksDefinition] = [
    markets_covered,
    unique_keys,
    prices_consistent,
    not_all_zero,
    row_count_stable,
    within_price_limit,
]
