"""The investing app's PostgreSQL database (ADELIE_APP_DATABASE_URL), or the warehouse when unset.

With the variable unset the app's tables go to the warehouse (SQLite included, JSON as text), named
`app_daily_briefings`, `app_historical_cases`, ...: the warehouse has a `historical_cases` table of its
own. Credentials never appear in a message: URLs are shown with the password masked, and the password
is scrubbed from any driver error, whatever characters it contains.
"""

from __future__ import annotations

import contextlib
import re
import threading
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import unquote

import psycopg2
import sqlalchemy as sa
from dagster import ConfigurableResource
from pydantic import Field
from sqlalchemy.engine import Engine
from sqlalchemy.engine.interfaces import ReflectedColumn

from adelie_assets.defs.app.tables import AppTables, app_tables
from adelie_assets.resources.warehouse import Warehouse, WarehouseError

ENV_VAR = "ADELIE_APP_DATABASE_URL"
WAREHOUSE_PREFIX = "app_"
SCHEMA_LOCK = zlib.crc32(b"adelie_assets.app.schema")
_URL = re.compile(r"^(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<rest>.*)$", re.DOTALL)


class AppDatabaseError(Exception):
    """The app's database cannot be used; the message names what to fix and never the password."""


def _credentials(url: str) -> tuple[str, str, str | None, str] | None:
    """(scheme, user, password or None, host part), splitting at the LAST '@' so that a password
    containing '@', ':', '/', '#' or '?' is taken whole."""
    match = _URL.match(url.strip())
    if not match:
        return None
    scheme, rest = match.group("scheme"), match.group("rest")
    at = rest.rfind("@")
    if at < 0:
        return scheme, "", None, rest
    user, sep, password = rest[:at].partition(":")
    return scheme, user, (password if sep else None), rest[at + 1 :]


def mask_url(url: str | None) -> str:
    """The URL for messages: password (and any password= parameter) replaced by ***."""
    if not url:
        return "<unset>"
    parts = _credentials(url)
    if parts is None:
        return "<not a URL>"
    scheme, user, password, host = parts
    host = re.sub(r"(?i)(password=)[^&]*", r"\1***", host)
    if password is None and not user:
        return f"{scheme}{host}"
    return f"{scheme}{user}{':***' if password is not None else ''}@{host}"


def scrub(message: str, url: str | None) -> str:
    """`message` without the URL's password in any spelling (raw, percent-decoded) or the URL itself."""
    if not url:
        return message
    parts = _credentials(url)
    secrets = {url, url.strip()}
    if parts and parts[2]:
        secrets.update({parts[2], unquote(parts[2])})
    for query_password in re.findall(r"(?i)password=([^&]+)", url):
        secrets.update({query_password, unquote(query_password)})
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        message = message.replace(secret, "***" if secret not in (url, url.strip()) else mask_url(url))
    return message


def _postgres_url(url: str) -> sa.URL:
    """The parsed URL, or an AppDatabaseError that shows the URL masked."""
    shown = mask_url(url)
    try:
        parsed = sa.make_url(url.strip())
        parsed.port  # noqa: B018 - parsing is lazy for the port; force it here
    except (sa.exc.ArgumentError, ValueError):
        raise AppDatabaseError(
            f"{ENV_VAR} ({shown}) is not a valid URL. Use postgresql://user:password@host:5432/dbname, "
            "with special characters in the password percent-encoded (@ as %40, / as %2F, : as %3A)."
        ) from None
    if parsed.drivername in ("postgres", "postgresql", "postgresql+psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    else:
        raise AppDatabaseError(
            f"{ENV_VAR} ({shown}) must be a PostgreSQL URL (postgresql://user:password@host:5432/dbname), "
            f"not {parsed.drivername!r}. Unset it to publish into the warehouse instead."
        )
    parts = _credentials(url)
    raw_password = parts[2] if parts else None
    if raw_password is not None and parsed.password != unquote(raw_password):
        raise AppDatabaseError(
            f"{ENV_VAR} ({shown}): the password contains characters that end it early; percent-encode "
            "them (@ as %40, / as %2F, : as %3A, # as %23, ? as %3F)."
        )
    return parsed


@dataclass(frozen=True)
class AppTarget:
    """Where a day is published: an engine, the five tables there, and a masked description."""

    engine: Engine
    tables: AppTables
    description: str
    url: str | None  # for scrubbing driver errors; never shown


_engines: dict[str, Engine] = {}
_ready: set[tuple[str, str]] = set()
_lock = threading.Lock()


@contextlib.contextmanager
def translated(action: str, target: AppTarget) -> Iterator[None]:
    """Driver errors as AppDatabaseErrors that say what failed and where, with no credentials."""
    try:
        yield
    except (sa.exc.DBAPIError, psycopg2.Error) as exc:
        original = getattr(exc, "orig", None) or exc
        lines = str(original).strip().splitlines()
        reason = scrub(f"{type(original).__name__}: {lines[0] if lines else 'no detail'}", target.url)
        setting = ENV_VAR if target.url else "ADELIE_WAREHOUSE_URL"
        raise AppDatabaseError(
            f"{action} in the app's database at {target.description} failed ({reason}). Nothing was "
            f"changed; check {setting} and that the server is up, then re-run the partition."
        ) from None


def _ensure_tables(target: AppTarget) -> None:
    """Create the tables that are missing (never alter one), then check the existing ones have every
    column the platform writes."""
    with translated("Creating the missing app tables", target), target.engine.begin() as conn:
        if target.engine.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": SCHEMA_LOCK})
        target.tables.metadata.create_all(conn, checkfirst=True)
        inspector = sa.inspect(conn)
        for table in target.tables.all:
            columns = inspector.get_columns(table.name)
            present = {c["name"] for c in columns}
            missing = [c.name for c in table.columns if c.name not in present]
            if missing:
                raise AppDatabaseError(
                    f"The app's table {table.name} at {target.description} has no column(s) "
                    f"{', '.join(missing)}: run the app's migrations; the platform never alters its tables."
                )
            unfillable = [c["name"] for c in columns if c["name"] not in table.c and _needs_a_value(c)]
            if unfillable:
                raise AppDatabaseError(
                    f"The app's table {table.name} at {target.description} has column(s) "
                    f"{', '.join(unfillable)} NOT NULL without a default, which the platform does not "
                    "write: every row it inserts would be refused. Give them a default or make them "
                    "nullable (the app's migration); the platform never alters its tables."
                )


def _needs_a_value(column: ReflectedColumn) -> bool:
    """A column an INSERT that leaves it out fails on: NOT NULL, no default, not generated."""
    generated = column.get("identity") or column.get("computed") or column.get("autoincrement") is True
    return not column["nullable"] and column.get("default") is None and not generated


class AppDatabase(ConfigurableResource):
    """The investing app's database. Configure with ADELIE_APP_DATABASE_URL (PostgreSQL); unset, the
    app's tables live in the warehouse with the prefix `app_`."""

    url: str | None = Field(
        default=None,
        description="PostgreSQL URL of the app's database (env ADELIE_APP_DATABASE_URL); unset: warehouse.",
    )

    def target(self, warehouse: Warehouse) -> AppTarget:
        if not self.url:
            try:
                engine = warehouse.engine()
            except WarehouseError as exc:
                raise AppDatabaseError(str(exc)) from None
            target = AppTarget(
                engine, app_tables(WAREHOUSE_PREFIX), f"{warehouse.describe()} (warehouse)", None
            )
        else:
            parsed = _postgres_url(self.url)
            if warehouse.url and _same_database(parsed, warehouse.url):
                raise self._is_the_warehouse()
            with _lock:
                key = parsed.render_as_string(hide_password=False)
                if key not in _engines:
                    _engines[key] = sa.create_engine(
                        parsed,
                        pool_pre_ping=True,
                        connect_args={"connect_timeout": 10, "application_name": "adelie_assets.app"},
                    )
                engine = _engines[key]
            if _same_live_database(engine, warehouse):
                raise self._is_the_warehouse()
            target = AppTarget(engine, app_tables(), mask_url(self.url), self.url)
        ready_key = (str(target.engine.url), target.tables.daily_briefings.name)
        if ready_key not in _ready:
            _ensure_tables(target)
            _ready.add(ready_key)
        return target

    def describe(self) -> str:
        return mask_url(self.url) if self.url else "the warehouse (app_* tables)"

    def _is_the_warehouse(self) -> AppDatabaseError:
        return AppDatabaseError(
            f"{ENV_VAR} ({mask_url(self.url)}) is the warehouse's database, whose historical_cases "
            f"table is not the app's: point {ENV_VAR} at the app's database, or unset it to publish "
            "into the warehouse as app_* tables."
        )


# Names of this machine's own Postgres: the same server whichever of them a URL uses (no host: the
# local socket).
_LOOPBACK = {"", "localhost", "127.0.0.1", "::1", "[::1]", "localhost.localdomain"}


def _host(url: sa.URL) -> str:
    host = (url.host or "").strip().lower().rstrip(".")
    return "localhost" if host in _LOOPBACK else host


def _same_database(app: sa.URL, warehouse_url: str) -> bool:
    try:
        other = sa.make_url(warehouse_url.strip())
    except (sa.exc.ArgumentError, ValueError):
        return False
    if not other.drivername.startswith("postgres"):
        return False
    return (_host(app), app.port or 5432, app.database) == (_host(other), other.port or 5432, other.database)


_IDENTITY = sa.text("SELECT current_database(), pg_postmaster_start_time(), inet_server_port()")


def _same_live_database(app: Engine, warehouse: Warehouse) -> bool:
    """Whether both URLs reach one database of one server, by any names of the host (a DNS alias, an
    address): the server's start time and the database's name, asked of each. Unknown: False."""
    try:
        other = warehouse.engine()
        if other.dialect.name != "postgresql":
            return False
        with app.connect() as a, other.connect() as w:
            return tuple(a.execute(_IDENTITY).one()) == tuple(w.execute(_IDENTITY).one())
    except (sa.exc.DBAPIError, psycopg2.Error, WarehouseError):
        return False  # an unreachable database is named by the step's first real use of it


def dispose_engines() -> None:
    """Close every pooled connection (tests drop their scratch databases afterwards)."""
    with _lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
        _ready.clear()
