"""Publish one trading day into the app's tables, in one transaction, replacing exactly that day.

How a day's rows are identified (the app's tables have no partition column):
- its briefing: `daily_briefings.briefing_date` = the day; its stocks: `briefing_stocks.briefing_id`;
- its matches: `case_matches.matched_at` on the day (we write the trading day at 00:00);
- its cases: the `historical_cases` rows those matches point to. A case itself is identified by
  `(title, event_year)`, the key of the app's later UNIQUE constraint, so publishing behaves the same
  with and without it: a case that already exists is updated in place (same id, `view_count` and
  `created_at` kept), a new one is inserted.

Re-publishing a day therefore rewrites its briefing, stocks, matches and cases; a case it no longer
matches is deleted unless the app counted views on it or any row references it (another day's match,
or a table of the app, whatever its foreign key's action, looked up in the catalog): then it stays,
unlinked, so that links users saved keep working. A case shared with a LATER day keeps the later
day's content. Child rows (stocks, matches, relations) are updated in place when their key is unchanged, so
columns the app added and fills itself keep their values. Nothing is altered, dropped or truncated.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from adelie_assets.defs.app.case import FEED_KEY
from adelie_assets.defs.app.content import CaseFeed, DayFeed
from adelie_assets.defs.app.published_checks import judge_published_day
from adelie_assets.defs.app.tables import AppTables
from adelie_assets.lib.partitioned_checks import Verdicts

PUBLISH_LOCK = zlib.crc32(b"adelie_assets.app.publish")


@dataclass
class PublishResult:
    briefing_id: int
    stocks: int
    cases_inserted: int = 0
    cases_updated: int = 0
    cases_owned_by_later_day: int = 0
    stale_cases_deleted: int = 0
    stale_cases_kept: int = 0
    matches: int = 0
    relations: int = 0
    # Each check of published_checks.py on the day as committed (the app feed's step records them).
    verdicts: Verdicts = field(default_factory=dict, repr=False)

    def as_metadata(self) -> dict[str, int]:
        return {name: value for name, value in vars(self).items() if name != "verdicts"}


def _now() -> datetime:
    # The app's timestamps are `timestamp without time zone`, in UTC.
    return datetime.now(UTC).replace(tzinfo=None)


def _insert(conn: Connection, table: sa.Table, values: dict[str, Any]) -> int:
    return int(conn.execute(table.insert().values(**values)).inserted_primary_key[0])


def _sync_children(
    conn: Connection,
    table: sa.Table,
    parent: sa.ColumnElement[bool],
    key: tuple[str, ...],
    rows: list[dict[str, Any]],
    on_insert: dict[str, Any],
) -> int:
    """Make the rows under `parent` equal to `rows`: update by `key` in place, insert, delete the rest."""
    existing: dict[tuple[Any, ...], list[int]] = {}
    for row in conn.execute(
        sa.select(table.c.id, *(table.c[k] for k in key)).where(parent).order_by(table.c.id)
    ):
        existing.setdefault(tuple(row[1:]), []).append(int(row[0]))
    for values in rows:
        ids = existing.get(tuple(values[k] for k in key))
        if ids:
            conn.execute(table.update().where(table.c.id == ids.pop(0)).values(**values))
        else:
            conn.execute(table.insert().values(**values, **on_insert))
    leftover = [i for ids in existing.values() for i in ids]
    if leftover:
        conn.execute(table.delete().where(table.c.id.in_(leftover)))
    return len(rows)


def _without_key(values: dict[str, Any]) -> dict[str, Any]:
    # The app's team corrected the title or year of the row: their correction stays.
    return {k: v for k, v in values.items() if k not in ("title", "event_year")}


def _same_year(column: Any, year: int | None) -> sa.ColumnElement[bool]:
    return column.is_(None) if year is None else column == year


def _find_case(
    conn: Connection, cases: sa.Table, case: CaseFeed, previous: set[int]
) -> tuple[int | None, bool]:
    """The case's row, and whether the app's team has since changed its title or year (then kept).

    By (title, event_year): the row this day published before, else the oldest one (the app may hold
    duplicates). Else, among the rows this day published before, the one whose key as the feed wrote
    it is the case's: the app's team corrected its title or year, and the row stays one row."""
    found = conn.execute(
        sa.select(cases.c.id)
        .where(cases.c.title == case.title, _same_year(cases.c.event_year, case.event_year))
        .order_by(sa.case((cases.c.id.in_(sorted(previous)), 0), else_=1), cases.c.id)
        .limit(1)
    ).scalar()
    if found is not None or not previous:
        return (None if found is None else int(found)), False
    key = cases.c.keywords[FEED_KEY]
    edited = conn.execute(
        sa.select(cases.c.id)
        .where(
            cases.c.id.in_(sorted(previous)),
            key["title"].as_string() == case.title,
            _same_year(key["event_year"].as_integer(), case.event_year),
        )
        .order_by(cases.c.id)
        .limit(1)
    ).scalar()
    return (None, False) if edited is None else (int(edited), True)


# Every foreign key to the cases table, in any schema, as (child, [child columns], [cases columns]);
# names come quoted from the catalog (regclass, quote_ident), ready for SQL.
_REFERENCES_TO = sa.text(
    """SELECT c.conrelid::regclass::text AS child,
              array(SELECT quote_ident(a.attname) FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
                    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n
                    ORDER BY k.i) AS columns,
              array(SELECT quote_ident(a.attname) FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
                    JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n
                    ORDER BY k.i) AS refers_to
       FROM pg_constraint c
       WHERE c.contype = 'f' AND c.confrelid = to_regclass(:cases)
         AND c.conrelid <> to_regclass(:relations)"""
)


def _foreign_keys(conn: Connection, t: AppTables) -> list[tuple[str, list[str], list[str]]]:
    """Every foreign key to the cases table but the relations' (the feed deletes those with the case)."""
    cases, relations = t.historical_cases.name, t.case_stock_relations.name
    if conn.dialect.name == "postgresql":
        rows = conn.execute(_REFERENCES_TO, {"cases": cases, "relations": relations})
        return [(row.child, list(row.columns), list(row.refers_to)) for row in rows]
    inspector = sa.inspect(conn)
    quote = conn.dialect.identifier_preparer.quote
    return [
        (
            quote(table),
            [quote(c) for c in fk["constrained_columns"]],
            [quote(c) for c in fk["referred_columns"]],
        )
        for table in inspector.get_table_names()
        if table != relations
        for fk in inspector.get_foreign_keys(table)
        if fk["referred_table"] == cases
    ]


def _referenced(conn: Connection, t: AppTables, case_id: int) -> bool:
    """Whether any row of any table (the app's own, case_matches of any day) references the case,
    looked up in the catalog: whatever the key's action, deleting the case would lose or change it."""
    cases = conn.dialect.identifier_preparer.format_table(t.historical_cases)
    for child, columns, refers_to in _foreign_keys(conn, t):
        joined = " AND ".join(f"r.{c} = c.{p}" for c, p in zip(columns, refers_to, strict=True))
        found = conn.execute(
            sa.text(f"SELECT 1 FROM {child} r JOIN {cases} c ON {joined} WHERE c.id = :id LIMIT 1"),
            {"id": case_id},
        ).first()
        if found is not None:
            return True
    return False


def _delete_stale(conn: Connection, t: AppTables, case_id: int, result: PublishResult) -> None:
    cases = t.historical_cases
    if conn.dialect.name == "postgresql":
        # Until the commit, no app row can come to reference the case (a reference locks the row).
        conn.execute(sa.select(cases.c.id).where(cases.c.id == case_id).with_for_update())
    view_count = conn.execute(sa.select(cases.c.view_count).where(cases.c.id == case_id)).scalar()
    if (view_count or 0) > 0 or _referenced(conn, t, case_id):
        result.stale_cases_kept += 1
        return
    # A table of the app may still reference one of the case's relations: then keep both.
    savepoint = conn.begin_nested() if conn.dialect.name == "postgresql" else None
    try:
        conn.execute(t.case_stock_relations.delete().where(t.case_stock_relations.c.case_id == case_id))
        conn.execute(cases.delete().where(cases.c.id == case_id))
    except sa.exc.IntegrityError:
        if savepoint is None:
            raise
        savepoint.rollback()
        result.stale_cases_kept += 1
        return
    if savepoint is not None:
        savepoint.commit()
    result.stale_cases_deleted += 1


def publish_day_in(
    conn: Connection, t: AppTables, feed: DayFeed, now: datetime | None = None
) -> PublishResult:
    """Publish `feed` within the caller's transaction (see `publish_day`)."""
    now = now or _now()
    start = feed.matched_at
    end = start + timedelta(days=1)
    on_day = sa.and_(t.case_matches.c.matched_at >= start, t.case_matches.c.matched_at < end)
    if conn.dialect.name == "postgresql":
        # One publisher at a time: two days may share a case, and the lookup-then-insert must not race.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PUBLISH_LOCK})

    previous = {
        int(i) for i in conn.execute(sa.select(t.case_matches.c.matched_case_id).where(on_day)).scalars()
    }

    briefings = t.daily_briefings
    briefing = {k: feed.briefing[k] for k in ("market_summary", "top_keywords")}
    briefing_id = conn.execute(
        sa.select(briefings.c.id).where(briefings.c.briefing_date == feed.day)
    ).scalar()
    if briefing_id is None:
        briefing_id = _insert(conn, briefings, {"briefing_date": feed.day, **briefing, "created_at": now})
    else:
        conn.execute(briefings.update().where(briefings.c.id == briefing_id).values(**briefing))
    result = PublishResult(briefing_id=int(briefing_id), stocks=0)
    result.stocks = _sync_children(
        conn,
        t.briefing_stocks,
        t.briefing_stocks.c.briefing_id == briefing_id,
        ("stock_code", "selection_reason"),
        [{**row, "briefing_id": briefing_id} for row in feed.stocks],
        {"created_at": now},
    )

    cases = t.historical_cases
    published: set[int] = set()
    matches: list[dict[str, Any]] = []
    for case in feed.cases:
        case_id, edited_by_app = _find_case(conn, cases, case, previous)
        owned_by_later_day = False
        if case_id is None:
            case_id = _insert(
                conn, cases, {**case.values, "view_count": 0, "created_at": now, "updated_at": now}
            )
            result.cases_inserted += 1
        else:
            later = sa.select(t.case_matches.c.id).where(
                t.case_matches.c.matched_case_id == case_id, t.case_matches.c.matched_at >= end
            )
            owned_by_later_day = conn.execute(later.limit(1)).first() is not None
            if owned_by_later_day:
                result.cases_owned_by_later_day += 1
            else:
                conn.execute(
                    cases.update()
                    .where(cases.c.id == case_id)
                    .values(**(_without_key(case.values) if edited_by_app else case.values), updated_at=now)
                )
                result.cases_updated += 1
        published.add(case_id)
        if not owned_by_later_day:
            result.relations += _sync_children(
                conn,
                t.case_stock_relations,
                t.case_stock_relations.c.case_id == case_id,
                ("stock_code",),
                [{**r, "case_id": case_id} for r in case.relations],
                {},
            )
        matches.extend({**match, "matched_case_id": case_id, "matched_at": start} for match in case.matches)

    result.matches = _sync_children(
        conn, t.case_matches, on_day, ("current_keyword", "matched_case_id"), matches, {}
    )

    history = t.market_daily_history
    _sync_children(conn, history, history.c.date == feed.day, ("index_code",), feed.market_history, {})

    for stale in sorted(previous - published):
        _delete_stale(conn, t, stale, result)
    return result


def publish_day(engine: sa.Engine, t: AppTables, feed: DayFeed, now: datetime | None = None) -> PublishResult:
    """Replace the day's rows in one transaction: all of it is published, or nothing changes.

    Before the commit the day is read back on the same connection and the blocking verdicts of the
    app's checks run on it: a failed one raises `DataGuardError` and the transaction rolls back, so the
    app keeps the day's previously published rows."""
    with engine.begin() as conn:
        result = publish_day_in(conn, t, feed, now)
        result.verdicts = judge_published_day(conn, t, feed.day)
        return result
