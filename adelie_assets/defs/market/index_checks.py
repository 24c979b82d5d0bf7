"""Data-quality checks of `market_indices`: evaluated on the new rows before its write (the blocking
ones refuse a bad day) and recorded by its own step."""

import pandas as pd
from dagster import AssetCheckSeverity

from adelie_assets.defs.keys import MARKET_INDICES
from adelie_assets.lib.partitioned_checks import DailyCheck, Verdict, daily_check, table_reader
from adelie_assets.resources.krx_indices import INDICES
from adelie_assets.resources.warehouse import market_indices_table

# Both indices' largest one-day moves so far stay within about ±13 % (2001, 2008), and KRX's circuit
# breakers halt trading at -8 %, -15 % and -20 %: a bigger move is far more likely a parsing error.
INDEX_MOVE_LIMIT_PCT = 15.0


# market_indices evaluates these on its new rows before the write (lib/validate.py): a check
# must read the table with this reader to judge them.
_read = table_reader(market_indices_table)


def both_indices_verdict(rows: pd.DataFrame) -> Verdict:
    names = rows["index_name"].tolist() if not rows.empty else []
    counts = {name: names.count(name) for name in INDICES}
    metadata: dict[str, object] = {"rows": len(rows), **{f"rows_{n.lower()}": c for n, c in counts.items()}}
    bad = {name: count for name, count in counts.items() if count != 1}
    unknown = sorted(set(names) - set(INDICES))
    if bad or unknown:
        found = ", ".join(f"{name} {count} rows" for name, count in bad.items())
        extra = f"; unknown index names {unknown}" if unknown else ""
        return Verdict(
            False,
            f"Expected one KOSPI and one KOSDAQ row ({found or 'counts fine'}{extra}): re-run the partition.",
            metadata,
        )
    return Verdict(True, "One KOSPI and one KOSDAQ row.", metadata)


def index_values_verdict(rows: pd.DataFrame) -> Verdict:
    bad = []
    for row in rows.itertuples():
        prices = [row.open, row.high, row.low, row.close]
        amounts = [row.volume, row.trading_value, row.market_cap]
        if any(pd.isna(v) or v <= 0 for v in prices + amounts):
            bad.append(f"{row.index_name}: a missing or non-positive value")
        elif not row.low <= min(row.open, row.close) <= max(row.open, row.close) <= row.high:
            bad.append(
                f"{row.index_name}: low {row.low} / open {row.open} / close {row.close} / high {row.high}"
            )
    metadata: dict[str, object] = {"rows": len(rows), "bad_rows": len(bad)}
    if bad:
        return Verdict(False, f"Index values are not plausible ({'; '.join(bad)}).", metadata)
    closes = ", ".join(f"{row.index_name} {row.close:,.2f}" for row in rows.itertuples())
    return Verdict(True, f"Close > 0, low <= open, close <= high, volume/value/cap > 0 ({closes}).", metadata)


def index_move_verdict(rows: pd.DataFrame) -> Verdict:
    moves = {row.index_name: float(row.change_pct) for row in rows.itertuples() if pd.notna(row.change_pct)}
    beyond = {name: move for name, move in moves.items() if abs(move) > INDEX_MOVE_LIMIT_PCT}
    metadata: dict[str, object] = {f"change_pct_{n.lower()}": m for n, m in moves.items()}
    if beyond:
        found = ", ".join(f"{name} {move:+.2f}%" for name, move in beyond.items())
        return Verdict(
            False,
            f"{found} beyond ±{INDEX_MOVE_LIMIT_PCT:.0f}% in one day, which KRX's circuit breakers make "
            "near impossible: check change_pct parsing.",
            metadata,
        )
    return Verdict(True, ", ".join(f"{n} {m:+.2f}%" for n, m in moves.items()) or "No moves.", metadata)


MARKET_INDICES_CHECKS: list[DailyCheck] = [
    daily_check(
        MARKET_INDICES,
        "both_indices_present",
        both_indices_verdict,
        reads=(_read,),
        description="Exactly one KOSPI and one KOSDAQ row per day.",
    ),
    daily_check(
        MARKET_INDICES,
        "index_values_plausible",
        index_values_verdict,
        reads=(_read,),
        description="Close > 0, low <= open, close <= high, and volume, value and market cap > 0.",
    ),
    daily_check(
        MARKET_INDICES,
        "index_move_plausible",
        index_move_verdict,
        reads=(_read,),
        description=f"WARN when an index moved more than ±{INDEX_MOVE_LIMIT_PCT:.0f}% in one day.",
        severity=AssetCheckSeverity.WARN,
        blocking=False,
    ),
]
