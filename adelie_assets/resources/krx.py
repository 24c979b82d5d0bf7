"""The KRX resource: everything that touches pykrx and the KRX data service lives here.

Why it is shaped this way (each point cost a day to learn):
- pykrx logs in at import time and prints: see `krx_session.py`; every call runs with stdout captured.
- With no or a bad login KRX answers HTTP 400 `LOGOUT`; on a closed day every ticker comes back
  with "-". Neither is data, so both fail the step instead of writing rows.
- KRX bans IPs that make bulk requests and one account holds one session: one call at a time per
  host (a lock file, krx_lock.py, whatever the Dagster instance config), a polite delay between
  calls, and only a few retries, for 5xx and timeouts.
- `timeout_seconds` is a wall-clock deadline for each call, body included: a server that trickles
  one byte a second never hits a per-read timeout.
"""

import contextlib
import io
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import date
from typing import Any

import pandas as pd
import requests
from dagster import ConfigurableResource, get_dagster_logger
from pydantic import Field, PrivateAttr

from adelie_assets.resources.krx_errors import (
    KrxClosedDayError,
    KrxConfigError,
    KrxDataError,
    KrxError,
    KrxLoginError,
    KrxTransientError,
)
from adelie_assets.resources.krx_indices import INDEX_COLUMNS, INDICES, parse_index_rows
from adelie_assets.resources.krx_lock import one_krx_call
from adelie_assets.resources.krx_quotes import COLUMNS, MARKETS, parse_quotes
from adelie_assets.resources.krx_session import (
    DATA_PATH,
    KRX_ORIGIN,
    LOGIN_PATHS,
    _load_pykrx,
    _Pykrx,
    _TimeoutSession,
)

__all__ = [
    "COLUMNS",
    "INDEX_COLUMNS",
    "KRX",
    "KrxClosedDayError",
    "KrxConfigError",
    "KrxDataError",
    "KrxError",
    "KrxLoginError",
    "KrxTransientError",
    "_load_pykrx",
    "parse_quotes",
]

# Bounds of the settings: beyond them a value is a typo (1e9 s of delay would hold the KRX lock).
MAX_TIMEOUT_SECONDS = 600.0
MAX_DELAY_SECONDS = 60.0
MAX_BACKOFF_SECONDS = 120.0


class KRX(ConfigurableResource):
    """KRX market data through pykrx. Credentials come from KRX_ID/KRX_PW (both or neither)."""

    krx_id: str | None = Field(default=None, description="KRX data portal login id (env KRX_ID).")
    krx_pw: str | None = Field(default=None, description="KRX data portal password (env KRX_PW).")
    base_url: str | None = Field(
        default=None,
        description="Origin replacing https://data.krx.co.kr; for the fake KRX and the demo only "
        "(env ADELIE_KRX_URL).",
    )
    timeout_seconds: float = Field(
        default=30.0,
        gt=0,
        le=MAX_TIMEOUT_SECONDS,
        allow_inf_nan=False,
        description="Wall-clock deadline of each KRX request, body included.",
    )
    delay_seconds: float = Field(
        default=1.0,
        ge=0,
        le=MAX_DELAY_SECONDS,
        allow_inf_nan=False,
        description="Polite pause between two KRX calls (across processes of the host).",
    )
    max_attempts: int = Field(
        default=3,
        ge=1,
        le=5,
        description="Attempts per call; only 5xx, timeouts and dropped connections retry.",
    )
    retry_backoff_seconds: float = Field(
        default=5.0,
        ge=0,
        le=MAX_BACKOFF_SECONDS,
        allow_inf_nan=False,
        description="Wait before the 2nd attempt; doubles.",
    )

    _session: Any = PrivateAttr(default=None)

    # --- session -------------------------------------------------------------------------------

    def _check_credentials(self) -> bool:
        has_id, has_pw = bool(self.krx_id), bool(self.krx_pw)
        if has_id != has_pw:
            present, absent = ("KRX_ID", "KRX_PW") if has_id else ("KRX_PW", "KRX_ID")
            raise KrxConfigError(
                f"{present} is set but {absent} is not: set both KRX_ID and KRX_PW, or neither."
            )
        return has_id

    def _point_pykrx_at_origin(self, pykrx: _Pykrx) -> None:
        origin = (self.base_url or KRX_ORIGIN).rstrip("/")
        pykrx.krxio.KrxWebIo.url = property(lambda _self: origin + DATA_PATH)
        for name, path in LOGIN_PATHS.items():
            setattr(pykrx.auth, name, origin + path)

    def _open_session(self) -> Any:
        logged_in = self._check_credentials()
        pykrx = _load_pykrx()
        self._point_pykrx_at_origin(pykrx)
        http = _TimeoutSession(self.timeout_seconds)
        krx_session = pykrx.auth.KRXSession(session=http)
        if logged_in:
            try:
                with self._polite_call(), contextlib.redirect_stdout(io.StringIO()):
                    accepted = pykrx.auth.login_krx(self.krx_id, self.krx_pw, http)
            except (requests.RequestException, ValueError) as exc:
                raise KrxTransientError(
                    f"KRX login did not complete ({type(exc).__name__}): KRX may be down; try again later."
                ) from None
            if not accepted:
                raise KrxLoginError(
                    "KRX rejected the login: check KRX_ID and KRX_PW (and whether the KRX password must "
                    "be changed at https://data.krx.co.kr)."
                )
            krx_session.cookies = {c.name: {"value": c.value} for c in http.cookies}
            krx_session.expiry_time = time.time() + 3600
        else:
            get_dagster_logger().warning(
                "KRX_ID/KRX_PW are not set: KRX requires a login since 2025-12-27 and will likely "
                "answer LOGOUT."
            )
            # pykrx only uses a session it considers valid; without a login this one never expires.
            krx_session.expiry_time = float("inf")
        krx_session.is_authenticated = True
        pykrx.auth.set_auth_session(krx_session)
        return krx_session

    def _ensure_session(self) -> _Pykrx:
        # Re-login before pykrx's own expiry check would replace our session with a timeout-less one.
        if self._session is None or not self._session.is_valid():
            self._session = self._open_session()
        return _load_pykrx()

    # --- calls ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _polite_call(self) -> Iterator[None]:
        with one_krx_call((self.base_url or KRX_ORIGIN).rstrip("/"), self.delay_seconds):
            yield

    def _explain_bad_answer(self, what: str, exc: Exception) -> KrxError:
        response = getattr(self._session.session, "last_response", None) if self._session else None
        if response is not None:
            body = response.text.strip()
            if body.startswith("LOGOUT"):
                return KrxLoginError(
                    f"KRX answered LOGOUT to {what}: the KRX session is not logged in. Set KRX_ID and KRX_PW "
                    "(KRX requires a login since 2025-12-27) and check that no other process uses the "
                    "same account (one account holds one session)."
                )
            if response.status_code == 403:
                return KrxError(
                    f"KRX answered HTTP 403 to {what}: this IP may be banned for bulk requests (bans last a "
                    "day). Do not retry now; lower the request rate (delay_seconds) and try tomorrow."
                )
            if response.status_code >= 500:
                return KrxTransientError(f"KRX answered HTTP {response.status_code} to {what}: a KRX outage.")
            if response.status_code >= 400:
                return KrxError(f"KRX answered HTTP {response.status_code} to {what}: {body[:80]!r}.")
            if not body:
                return KrxError(f"KRX answered {what} with an empty body: a KRX outage or a changed API.")
            return KrxError(
                f"KRX's answer to {what} is not valid JSON ({type(exc).__name__}); the answer was cut off "
                "or the KRX API changed."
            )
        if isinstance(exc, requests.Timeout):
            return KrxTransientError(
                f"KRX did not answer {what} within {self.timeout_seconds:g} s (KRX slow or down)."
            )
        if isinstance(exc, requests.ConnectionError):
            return KrxTransientError(f"Could not connect to KRX for {what}: network or KRX outage.")
        return KrxError(f"KRX call for {what} failed: {type(exc).__name__}: {exc}")

    def _call(self, what: str, request: Callable[[_Pykrx], pd.DataFrame]) -> pd.DataFrame:
        """One KRX call under the lock and polite delay, retried for transient failures only."""
        backoff = self.retry_backoff_seconds
        for attempt in range(1, self.max_attempts + 1):
            pykrx = self._ensure_session()
            # Forget the login's answer, so that a failure before this call is not blamed on it.
            self._session.session.last_response = None
            try:
                with self._polite_call(), contextlib.redirect_stdout(io.StringIO()):
                    return request(pykrx)
            except Exception as exc:  # pykrx surfaces KRX trouble as assorted exceptions
                error = self._explain_bad_answer(what, exc)
                if not isinstance(error, KrxTransientError) or attempt == self.max_attempts:
                    if isinstance(error, KrxTransientError):
                        raise KrxTransientError(f"{error} Gave up after {attempt} attempts.") from None
                    raise error from None
                get_dagster_logger().warning(f"{error} Attempt {attempt}/{self.max_attempts}; retrying.")
                time.sleep(backoff)
                backoff *= 2
        raise AssertionError("unreachable")

    def _fetch_raw(self, market_code: str, day: date) -> pd.DataFrame:
        what = f"{MARKETS[market_code]} quotes of {day}"
        return self._call(what, lambda pykrx: pykrx.quotes_cls().fetch(day.strftime("%Y%m%d"), market_code))

    def fetch_day(self, day: date) -> pd.DataFrame:
        """All KOSPI and KOSDAQ tickers of one trading day, typed, or a KrxError saying why not."""
        frames = []
        for market_code, market in MARKETS.items():
            raw = self._fetch_raw(market_code, day)
            if raw.empty:
                raise KrxError(
                    f"KRX returned no {market} rows for {day}: check KRX_ID/KRX_PW (a missing login can "
                    "return empty answers) or whether KRX is having an outage."
                )
            parsed = parse_quotes(raw, market_code, day)
            if parsed["close"].isna().all() or parsed["close"].fillna(0).eq(0).all():
                raise KrxClosedDayError(
                    f"KRX returned every {market} ticker without prices ('-') for {day}, which the KRX "
                    "calendar calls a trading day: either KRX has not published the day yet (outage), or "
                    "the day is a closure missing from holidays.financial_holidays('XKRX')."
                )
            frames.append(parsed)
        return pd.concat(frames, ignore_index=True)

    def fetch_indices(self, days: Sequence[date]) -> pd.DataFrame:
        """KOSPI and KOSDAQ composite of each of `days`, typed: one KRX call per index for the whole
        span, or a KrxError saying why not (nothing is returned for a partly bad answer)."""
        wanted = sorted(set(days))
        start, end = wanted[0], wanted[-1]
        span = str(start) if start == end else f"{start}..{end}"
        frames = []
        for name, (group, code) in INDICES.items():
            raw = self._call(
                f"the {name} index of {span}",
                lambda pykrx, group=group, code=code: pykrx.index_cls().fetch(
                    code, group, start.strftime("%Y%m%d"), end.strftime("%Y%m%d")
                ),
            )
            if raw.empty:
                raise KrxError(
                    f"KRX returned no {name} index rows for {span}, which the KRX calendar calls trading "
                    "days: check KRX_ID/KRX_PW (a missing login can return empty answers) or whether KRX "
                    "is having an outage."
                )
            parsed = parse_index_rows(raw, name)
            if parsed["close"].isna().all() or parsed["close"].fillna(0).eq(0).all():
                raise KrxError(
                    f"KRX returned the {name} index without values ('-') for {span}: KRX has not "
                    "published the day(s) yet (outage), or the answer is a closed day's."
                )
            by_day = parsed.set_index("trade_date")
            missing = [day for day in wanted if day not in by_day.index or not by_day.at[day, "close"] > 0]
            if missing:
                shown = ", ".join(str(day) for day in missing[:5]) + (" ..." if len(missing) > 5 else "")
                raise KrxError(
                    f"KRX's {name} index answer for {span} has no value for {len(missing)} trading day(s) "
                    f"({shown}): KRX has not published them yet, or they are closures missing from "
                    "holidays.financial_holidays('XKRX')."
                )
            frames.append(parsed[parsed["trade_date"].isin(wanted)])
        return pd.concat(frames, ignore_index=True)[INDEX_COLUMNS]
