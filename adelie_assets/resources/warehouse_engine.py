"""Warehouse connections: URL parsing, one engine per URL and process, errors that name what to fix."""

import contextlib
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg2
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError

from adelie_assets.resources.warehouse_schema import create_tables
from adelie_assets.settings import state_dir


class WarehouseError(Exception):
    """The warehouse cannot be reached or used. The message names what to fix."""


class WarehouseDataError(WarehouseError):
    """The database refused the rows themselves (a duplicate key, a value it cannot store)."""


def default_url() -> str:
    # Only the default location is created; a path given in ADELIE_WAREHOUSE_URL must exist.
    directory = state_dir()
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{directory / 'warehouse.sqlite'}"


def _has_unencoded_at(url: str) -> bool:
    # A password's '@' must be percent-encoded (%40); SQLAlchemy splits at the first '@', so the rest
    # of the password would become the host, which drivers print in their errors.
    authority = url.partition("://")[2]
    return authority.count("@") > 1


# libpq takes a password in the query too: ?password=..., ?sslpassword=... (any case).
PASSWORD_PARAMETER = re.compile(r"(?i)([?&][^=&]*password[^=&]*=)[^&]*")


def safe_url(url: str) -> str:
    """The URL with its password masked, for messages and metadata."""
    if _has_unencoded_at(url):
        scheme, _, rest = url.partition("://")
        return f"{scheme}://***@{rest.rpartition('@')[2]}"
    try:
        shown = sa.make_url(url).render_as_string(hide_password=True)
        return PASSWORD_PARAMETER.sub(r"\1***", shown)
    except (ArgumentError, ValueError):  # ValueError: e.g. a port that is not a number
        return "<unparseable URL>"


def _is_password_parameter(name: str) -> bool:
    return "password" in name.lower()


def scrubbed(text: str, url: str) -> str:
    """`text` without the URL's password (or, for a URL we cannot split, its whole user part)."""
    secrets: list[str] = []
    scheme, _, rest = url.partition("://")
    userinfo = rest.rpartition("@")[0]
    if userinfo:
        secrets += [userinfo, userinfo.partition(":")[2]]
        secrets += userinfo.partition(":")[2].split("@")
    try:
        parsed = sa.make_url(url)
    except (ArgumentError, ValueError):
        parsed = None
    if parsed is not None and parsed.password:
        secrets.append(str(parsed.password))
    if parsed is not None:
        for name, value in parsed.query.items():
            if _is_password_parameter(name):
                secrets += [value] if isinstance(value, str) else list(value)
    for name, value in re.findall(r"[?&]([^=&]*)=([^&]*)", url):  # the raw spelling, %-encoded
        if _is_password_parameter(name):
            secrets.append(value)
    for secret in sorted({s for s in secrets if len(s) >= 3}, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _normalize(url: str) -> sa.URL:
    if _has_unencoded_at(url):
        raise WarehouseError(
            "ADELIE_WAREHOUSE_URL has more than one '@': percent-encode an '@' in the user or password "
            "as %40 (e.g. postgresql+psycopg2://user:p%40ss@host:5432/dbname)."
        )
    try:
        parsed = sa.make_url(url.strip())
        parsed.port  # noqa: B018 - parsing is lazy for the port; force it here
    except (ArgumentError, ValueError):
        raise WarehouseError(
            "ADELIE_WAREHOUSE_URL is not a valid SQLAlchemy URL. Use e.g. "
            "postgresql+psycopg2://user:password@host:5432/dbname or sqlite:////absolute/path.sqlite."
        ) from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg2")
    if parsed.drivername not in ("postgresql+psycopg2", "sqlite", "sqlite+pysqlite"):
        raise WarehouseError(
            f"ADELIE_WAREHOUSE_URL uses the unsupported driver {parsed.drivername!r}: "
            "use postgresql+psycopg2://... or sqlite:///...."
        )
    if parsed.drivername.startswith("sqlite") and parsed.database not in (None, "", ":memory:"):
        database = parsed.database
        if parsed.query.get("uri") == "true":  # sqlite:///file:/path?mode=ro&uri=true: an SQLite URI
            database = urlsplit(database).path
        directory = Path(database).parent
        if not directory.is_dir():
            # SQLite would create an empty warehouse; a typo must not silently start a new one.
            raise WarehouseError(
                f"The directory {directory} of the SQLite file in ADELIE_WAREHOUSE_URL does not exist: "
                "fix the path (sqlite:////absolute/path.sqlite has four slashes) or create the directory."
            )
    return parsed


def _create_engine(parsed: sa.URL) -> Engine:
    if parsed.drivername.startswith("sqlite"):
        # Writers wait for each other instead of failing at once with "database is locked".
        engine = sa.create_engine(parsed, connect_args={"timeout": 60})
    else:
        engine = sa.create_engine(
            parsed,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 10, "application_name": "adelie_assets"},
        )
    return engine


def engine_for(url: str) -> Engine:
    """The process's engine for `url`, created (with the tables) on first use."""
    with _engines_lock:
        if url not in _engines:
            engine = _create_engine(_normalize(url))
            try:
                engine.connect().close()
            except (sa.exc.DBAPIError, psycopg2.Error) as exc:
                engine.dispose()
                raise WarehouseError(
                    f"Cannot reach the warehouse at {safe_url(url)}: {scrubbed(reason(exc), url)}. "
                    "Check ADELIE_WAREHOUSE_URL and that the database server is up."
                ) from None
            try:
                create_tables(engine)
            except (sa.exc.DBAPIError, psycopg2.Error) as exc:
                engine.dispose()
                raise WarehouseError(
                    f"The warehouse at {safe_url(url)} was reached, but its tables could not be created "
                    f"({scrubbed(reason(exc), url)}): the database is read-only or the user may not "
                    "create tables. Point ADELIE_WAREHOUSE_URL at a writable database, or create the "
                    "tables once as a user who may."
                ) from None
            _engines[url] = engine
        return _engines[url]


def root_cause(exc: BaseException) -> BaseException:
    """The first database error of a chain: a failed COPY is followed by a failed rollback on the same
    dead connection, and the rollback's "connection already closed" would hide what happened."""
    causes = [exc]
    while causes[-1].__context__ is not None and len(causes) < 10:
        causes.append(causes[-1].__context__)
    database_errors = [c for c in causes if isinstance(c, sa.exc.DBAPIError | psycopg2.Error)]
    return database_errors[-1] if database_errors else exc


def reason(exc: BaseException) -> str:
    root = root_cause(exc)
    original = getattr(root, "orig", None) or root
    lines = str(original).strip().splitlines()
    return f"{type(original).__name__}: {lines[0] if lines else 'no detail'}"


@contextlib.contextmanager
def translated(action: str, url: str) -> Iterator[None]:
    """Database failures as WarehouseErrors that say what failed, where, and what to check."""
    try:
        yield
    except (sa.exc.DBAPIError, psycopg2.Error) as exc:
        why = scrubbed(reason(exc), url)
        if _is_data_error(exc):
            raise WarehouseDataError(
                f"{action}: the warehouse at {safe_url(url)} refused the rows themselves ({why}). This is "
                "a problem of the data, not of the database server or ADELIE_WAREHOUSE_URL. Nothing was "
                "changed; a re-run with the same data fails the same way."
            ) from None
        raise WarehouseError(
            f"{action} on the warehouse at {safe_url(url)} failed ({why}). Nothing was changed; "
            "check ADELIE_WAREHOUSE_URL and that the database server is up, then re-run the partition."
        ) from None


def _is_data_error(exc: BaseException) -> bool:
    """A constraint violation or a value the database cannot store, as opposed to a connection fault."""
    root = root_cause(exc)
    original = getattr(root, "orig", None) or root
    return isinstance(root, sa.exc.IntegrityError | sa.exc.DataError) or isinstance(
        original, psycopg2.IntegrityError | psycopg2.DataError
    )


def dispose_engines() -> None:
    """Close every pooled connection (tests drop their scratch databases afterwards)."""
    with _engines_lock:
        for engine in _engines.values():
            engine.dispose()
        _engines.clear()
