"""The fault names the fake KRX knows, their scope, and how the row-changing ones rewrite an answer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from adelie_fakes.krx.answers import MARKETS, _dash_row
from adelie_fakes.krx.prices import _fmt, _num

DATA_FAULTS: tuple[str, ...] = (
    "logout",
    "http_403",
    "http_500",
    "http_503",
    "hang",
    "empty_body",
    "truncated_json",
    "all_dash",
    "empty_rows",
    "huge_volume",
)
LOGIN_FAULTS: tuple[str, ...] = ("bad_login", "duplicate_login")
FAULTS: tuple[str, ...] = DATA_FAULTS + LOGIN_FAULTS

HUGE_VOLUME = 3_000_000_000

_ERROR_PAGES = {
    "http_403": (403, "Forbidden"),
    "http_500": (500, "Internal Server Error"),
    "http_503": (503, "Service Unavailable"),
}


@dataclass
class _Fault:
    name: str
    markets: frozenset[str] | None
    remaining: int | None
    hang_seconds: float | None
    days: frozenset[str] | None = None  # quote requests of these trdDd only; None: every request

    def applies_on(self, trd_dd: str) -> bool:
        return self.days is None or trd_dd in self.days

    def applies_to(self, mkt_id: str) -> bool:
        if self.markets is None or mkt_id in self.markets:
            return True
        return mkt_id == "ALL" and not self.markets.isdisjoint(MARKETS)

    def covers_row(self, row: dict[str, Any]) -> bool:
        return self.markets is None or "ALL" in self.markets or row.get("MKT_ID") in self.markets


def _apply_row_fault(body: dict[str, Any], fault: _Fault) -> dict[str, Any]:
    rows: list[dict[str, str]] = body.get("OutBlock_1", [])
    if fault.name == "all_dash":
        body["OutBlock_1"] = [_dash_row(row) if fault.covers_row(row) else row for row in rows]
    elif fault.name == "empty_rows":
        body["OutBlock_1"] = [row for row in rows if not fault.covers_row(row)]
    elif fault.name == "huge_volume":
        for row in rows:
            if fault.covers_row(row) and row.get("ACC_TRDVOL") not in ("0", "-", None):
                high, low, close = (_num(row[k]) for k in ("TDD_HGPRC", "TDD_LWPRC", "TDD_CLSPRC"))
                row["ACC_TRDVOL"] = _fmt(HUGE_VOLUME)
                row["ACC_TRDVAL"] = _fmt(HUGE_VOLUME * (high + low + 2 * close) // 4)
                break
    return body
