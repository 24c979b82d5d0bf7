"""`analog_features` (the day's setups, stored once) and `market_analogs` (the k nearest past setups
of the day's theme stocks and of both indices). Rules: docs/analogs.md."""

import time
from collections.abc import Iterator
from datetime import date, timedelta

import pandas as pd
from dagster import (
    AssetExecutionContext,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)
from pydantic import Field

from adelie_assets import markdown
from adelie_assets.calendar import (
    FIRST_TRADING_DAY,
    parse_partition_key,
    trading_day_partitions,
    trading_days,
)
from adelie_assets.defs.analogs.checks import ANALOG_FEATURES_CHECKS, MARKET_ANALOGS_CHECKS
from adelie_assets.defs.analogs.features import (
    LOOKBACK_DAYS,
    MARKETS,
    FeatureDataError,
    StaleFeatureBlock,
    index_blocks,
    stock_blocks,
)
from adelie_assets.defs.analogs.regime import AFTER_DAYS, IndexLevels, extremes_after
from adelie_assets.defs.analogs.search import (
    DEFAULT_K,
    Analog,
    Candidates,
    NotEnoughHistory,
    Searcher,
    SubjectAnalogs,
    days_needed,
    require_history,
)
from adelie_assets.defs.analogs.storage import block_rows, load_histories
from adelie_assets.defs.analogs.table import ANALOG_FEATURES_SCHEMA, MARKET_ANALOGS_SCHEMA
from adelie_assets.defs.episodes import episode_on
from adelie_assets.defs.episodes.checks import MARKET_EPISODES
from adelie_assets.defs.keys import ANALOG_FEATURES, DAILY_THEMES, MARKET_ANALOGS, MARKET_DATA, MARKET_INDICES
from adelie_assets.defs.market.assets import BACKFILL_POLICY
from adelie_assets.lib.history import HISTORY_TAGS
from adelie_assets.lib.partitioned_checks import CheckEvent, check_results, check_specs, stored_check_results
from adelie_assets.lib.validate import record_refused, replace_validated
from adelie_assets.resources.warehouse import (
    Warehouse,
    analog_features_table,
    daily_themes_table,
    market_analogs_table,
    market_indices_table,
)


def _window(days: list[date]) -> list[date]:
    """The partition days plus the LOOKBACK_DAYS trading days before the first (or fewer, at the start)."""
    start = max(FIRST_TRADING_DAY, min(days) - timedelta(days=90))  # 20 trading days, holidays included
    calendar = trading_days(start, max(days))
    first = calendar.index(min(days))
    return calendar[max(0, first - LOOKBACK_DAYS) :]


@multi_asset(
    name="analog_features",
    specs=[
        AssetSpec(
            ANALOG_FEATURES,
            deps=[MARKET_DATA, MARKET_INDICES],
            tags=HISTORY_TAGS,
            group_name="analogs",
            kinds={"python", "sql"},
            owners=["team:data-engineering"],
            metadata={"dagster/column_schema": ANALOG_FEATURES_SCHEMA},
            description=(
                "The setup of every ticker and of both indices on the day, as analog search matches it: "
                "the day's, 5- and 20-day changes, volume vs. its 20-day average, the market index's "
                "change (docs/analogs.md). Computed once per day from market_data and market_indices of "
                "the day and the 20 trading days before, stored as one binary block per kind in "
                "`analog_features` (replaced atomically), so that a search reads ten years in a second."
            ),
        )
    ],
    # Recorded by this step on the rows it writes; the UI can execute them alone, on the stored rows.
    check_specs=check_specs(ANALOG_FEATURES_CHECKS),
    can_subset=True,
    partitions_def=trading_day_partitions,
    backfill_policy=BACKFILL_POLICY,
)
def analog_features(
    context: AssetExecutionContext, warehouse: Warehouse
) -> Iterator[MaterializeResult | CheckEvent]:
    if not context.selected_asset_keys:
        yield from stored_check_results(context, ANALOG_FEATURES_CHECKS, warehouse)
        return
    days = [parse_partition_key(key) for key in context.partition_keys]
    calendar = _window(days)
    quotes = warehouse.read_market_data(calendar)
    indices = warehouse.read(market_indices_table, calendar)
    for day in days:
        missing = [
            name
            for name, frame in (("market_data", quotes), ("market_indices", indices))
            if frame.empty or not (frame["trade_date"] == day).any()
        ]
        if missing:
            raise Failure(
                f"{' and '.join(missing)} has no rows for {day} in {warehouse.describe()}: materialize "
                f"{', '.join(missing)} for {day} first (the schedule and backfills do this in order).",
                allow_retries=False,
            )
    complete_from = calendar[min(LOOKBACK_DAYS, len(calendar) - 1)]
    try:
        stocks = stock_blocks(quotes, indices, calendar, days)
        index = index_blocks(indices, calendar, days)
    except FeatureDataError as exc:
        # A data problem: a retry computes the same. Nothing is written.
        raise Failure(f"analog_features refused, nothing written: {exc}", allow_retries=False) from None
    rows = block_rows([*stocks, *index])
    # Every day computed, then validated: a day a blocking check fails on is refused alone.
    validated = replace_validated(
        warehouse,
        analog_features_table,
        days,
        pd.DataFrame(rows),
        ANALOG_FEATURES_CHECKS,
        "market_data and market_indices",
    )
    yield from record_refused(context, ANALOG_FEATURES, ANALOG_FEATURES_CHECKS, validated, len(days))
    complete = {str(b.day): int((~pd.isna(b.values[:, :5]).any(axis=1)).sum()) for b in stocks}
    context.log.info(f"analog_features: {len(days)} day(s), complete vectors per day {complete}")
    yield MaterializeResult(
        metadata={
            "dagster/row_count": len(rows),
            "days": len(days),
            "complete_vectors_by_day": MetadataValue.json(complete),
            "tickers": sum(len(b.codes) for b in stocks),
            "lookback_complete_from": str(complete_from),
        }
    )
    yield from check_results(context, ANALOG_FEATURES_CHECKS, validated.verdicts)


class MarketAnalogsConfig(Config):
    k: int = Field(default=DEFAULT_K, ge=1, le=10, description="Analogs per subject (stock or index).")


def _regime(subject: SubjectAnalogs, analog: Analog, levels: IndexLevels, today: int) -> dict[str, object]:
    """The regime facts of one analog (docs/analogs.md, "Regime facts")."""
    index_name = analog.market if subject.kind == "stock" else analog.ticker
    index_path = levels.history.path(index_name, analog.position, 0, AFTER_DAYS)
    return {
        "today": levels.regime(subject.market, today),
        "analog": levels.regime(index_name, analog.position),
        "after_60": {"analog": extremes_after(analog.path), "index": extremes_after(index_path)},
        "size_tier": {"today": subject.size_tier, "analog": analog.size_tier},
        # The named market episode the analog's day falls in (episodes.toml), a fact the case may state.
        "episode": None if (episode := episode_on(analog.day)) is None else episode.facts(),
    }


def _analog_rows(
    day: date,
    found: list[tuple[SubjectAnalogs, str, int | None]],
    listings: dict[tuple[str, date], tuple[str, int | None]],
    history_start: date,
    levels: IndexLevels,
) -> list[dict[str, object]]:
    years = round((day - history_start).days / 365.25, 2)
    today = levels.history.position(day)
    rows = []
    for subject, subject_name, theme_rank in found:
        for rank, analog in enumerate(subject.analogs, start=1):
            name, market_cap = listings.get((analog.ticker, analog.day), (analog.ticker, None))
            rows.append(
                {
                    "trade_date": day,
                    "subject": subject.subject,
                    "analog_rank": rank,
                    "analog_id": f"{subject.subject}-{rank}",
                    "subject_kind": subject.kind,
                    "subject_name": subject_name,
                    "theme_rank": theme_rank,
                    "analog_ticker": analog.ticker,
                    "analog_name": name,
                    "analog_date": analog.day,
                    "similarity": analog.similarity,
                    "distance": analog.distance,
                    "features": {"today": subject.features, "analog": analog.features},
                    **{f"after_{s}_pct": analog.after_pct[s] for s in (5, 20, 60)},
                    **{f"index_after_{s}_pct": analog.index_after_pct[s] for s in (5, 20, 60)},
                    "path_analog": analog.path,
                    "path_today": subject.path_today,
                    "history_start": history_start,
                    "history_years": years,
                    "regime": _regime(subject, analog, levels, today),
                    "analog_market_cap": market_cap,
                }
            )
    return rows


def _analog_listings(
    warehouse: Warehouse, found: list[tuple[SubjectAnalogs, str, int | None]]
) -> dict[tuple[str, date], tuple[str, int | None]]:
    """(ticker, day) -> (KRX name, market cap in KRW) of each stock analog, from market_data."""
    wanted = {(a.ticker, a.day) for s, _, _ in found if s.kind == "stock" for a in s.analogs}
    if not wanted:
        return {}
    quotes = warehouse.read_market_data(sorted({d for _, d in wanted}))
    return {
        (r.ticker, r.trade_date): (r.name, None if pd.isna(r.market_cap) else int(r.market_cap))
        for r in quotes.itertuples()
        if (r.ticker, r.trade_date) in wanted
    }


@multi_asset(
    name="market_analogs",
    specs=[
        AssetSpec(
            MARKET_ANALOGS,
            deps=[MARKET_DATA, ANALOG_FEATURES, DAILY_THEMES, MARKET_EPISODES],
            group_name="analogs",
            kinds={"python", "sql"},
            owners=["team:data-engineering"],
            metadata={"dagster/column_schema": MARKET_ANALOGS_SCHEMA},
            description=(
                "For each stock of the day's themes and for the KOSPI and KOSDAQ indices, the k most "
                "similar past setups (default 3) in the warehouse's own history, at least 60 trading days "
                "back: stocks among every stock's past, indices among their own. Each with its similarity "
                "(0-100), features, what followed (+5/+20/+60 trading days, and the index's) and the chart "
                "paths. A partition is replaced atomically in `market_analogs`; rules in docs/analogs.md."
            ),
        )
    ],
    # Recorded by this step on the rows it writes; the UI can execute them alone, on the stored rows.
    check_specs=check_specs(MARKET_ANALOGS_CHECKS),
    can_subset=True,
    partitions_def=trading_day_partitions,
    backfill_policy=BACKFILL_POLICY,
)
def market_analogs(
    context: AssetExecutionContext, config: MarketAnalogsConfig, warehouse: Warehouse
) -> Iterator[MaterializeResult | CheckEvent]:
    if not context.selected_asset_keys:
        yield from stored_check_results(context, MARKET_ANALOGS_CHECKS, warehouse)
        return
    days = [parse_partition_key(key) for key in context.partition_keys]
    started = time.monotonic()
    try:
        stocks, indices = load_histories(warehouse.engine(), max(days), FIRST_TRADING_DAY)
    except StaleFeatureBlock as exc:
        raise Failure(
            f"market_analogs for {days[0]}..{days[-1]}: {exc}. Re-materialize analog_features for every "
            f"stored day up to {max(days)} (a backfill; it reads the warehouse only), then re-run.",
            allow_retries=False,
        ) from None
    except FeatureDataError as exc:
        raise Failure(f"market_analogs for {days[0]}..{days[-1]}: {exc}.", allow_retries=False) from None
    read_seconds = time.monotonic() - started
    themes = warehouse.read(daily_themes_table, days)
    by_day: dict[date, list[dict[str, object]]] = {}
    searched: dict[str, float] = {}
    without: dict[str, list[str]] = {}
    shared: tuple[Candidates, Candidates] | None = None
    levels: IndexLevels | None = None
    for day in days:
        if day not in stocks.calendar or stocks.day_rows(day) == 0:
            raise Failure(
                f"analog_features has no rows for {day}: materialize analog_features for {day} first.",
                allow_retries=False,
            )
        for kind, history in (("stock", stocks), ("index", indices)):
            try:
                require_history(history, day, kind)
            except NotEnoughHistory as exc:
                calendar = trading_days(FIRST_TRADING_DAY, day)
                need = days_needed()
                start = calendar[max(0, len(calendar) - 1 - need)]
                raise Failure(
                    f"market_analogs for {day}: {exc}. Backfill market_data, market_indices and "
                    f"analog_features from {start} to {day} ({need} trading days before {day}), then re-run.",
                    allow_retries=False,
                ) from None
        day_themes = themes[themes["trade_date"] == day] if not themes.empty else themes
        if day_themes.empty:
            raise Failure(
                f"daily_themes has no rows for {day}: materialize daily_themes for {day} first.",
                allow_retries=False,
            )
        subjects: dict[str, tuple[str, int]] = {}
        for theme in day_themes.sort_values("theme_rank").itertuples():
            for stock in theme.stocks:
                subjects.setdefault(stock["ticker"], (stock["name"], int(theme.theme_rank)))
        # One preparation of the history per kind serves every day of the chunk.
        shared = shared or (Candidates(stocks, "stock", days), Candidates(indices, "index", days))
        stock_search = Searcher(stocks, day, "stock", indices, shared[0])
        index_search = Searcher(indices, day, "index", candidates=shared[1])
        found: list[tuple[SubjectAnalogs, str, int | None]] = []
        missing = []
        stock_results = dict(zip(subjects, stock_search.find_all(list(subjects), config.k), strict=True))
        for ticker, (name, rank) in subjects.items():
            result = stock_results[ticker]
            if result is None or not result.analogs:
                missing.append(ticker)
                continue
            found.append((result, name, rank))
        index_results = dict(zip(MARKETS, index_search.find_all(MARKETS, config.k), strict=True))
        for index_name in MARKETS:
            result = index_results[index_name]
            if result is None or not result.analogs:
                missing.append(index_name)
                continue
            found.append((result, index_name, None))
        history_start = stocks.calendar[int(stocks.positions[0])] if stocks.positions.size else day
        levels = levels or IndexLevels(indices)
        by_day[day] = _analog_rows(day, found, _analog_listings(warehouse, found), history_start, levels)
        searched[str(day)] = round((day - history_start).days / 365.25, 2)
        without[str(day)] = missing
    # Every day computed, then validated: a day a blocking check fails on is refused alone.
    validated = replace_validated(
        warehouse,
        market_analogs_table,
        days,
        pd.DataFrame(
            [r for rows in by_day.values() for r in rows],
            columns=[c.name for c in market_analogs_table.columns],
        ),
        MARKET_ANALOGS_CHECKS,
        "analog_features and daily_themes",
    )
    yield from record_refused(context, MARKET_ANALOGS, MARKET_ANALOGS_CHECKS, validated, len(days))
    last = by_day[days[-1]]
    preview = markdown.table(
        ["id", "subject", "analog", "date", "similarity", "+5%", "+20%", "+60%"],
        [
            [r["analog_id"], r["subject_name"], r["analog_name"], r["analog_date"], r["similarity"],
             r["after_5_pct"], r["after_20_pct"], r["after_60_pct"]]
            for r in last
        ],
    )  # fmt: skip
    total = sum(len(r) for r in by_day.values())
    yield MaterializeResult(
        metadata={
            "dagster/row_count": total,
            "dagster/column_schema": MARKET_ANALOGS_SCHEMA,
            "history_years_searched": max(searched.values()),
            "history_years_by_day": MetadataValue.json(searched),
            "history_start": str(stocks.calendar[0]) if stocks.calendar else "",
            "vectors_searched": int(stocks.codes.size),
            "subjects_without_analogs": MetadataValue.json(without),
            "read_seconds": round(read_seconds, 3),
            "search_seconds": round(time.monotonic() - started - read_seconds, 3),
            "preview": MetadataValue.md(preview),
        }
    )
    yield from check_results(context, MARKET_ANALOGS_CHECKS, validated.verdicts)
