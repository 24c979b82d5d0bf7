"""Feature blocks in the warehouse: one row per (trade_date, kind), the vectors as binary columns.

Ten years of stocks are ~2,450 rows of ~90 kB instead of 5.9 M rows, so one day's search reads its
whole history in well under a second on SQLite and Postgres (figures: bench/bench_analogs.py).
"""

from __future__ import annotations

import io
import struct
from collections.abc import Sequence
from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adelie_assets.calendar import trading_days
from adelie_assets.defs.analogs.features import FeatureBlock, pack, unpack
from adelie_assets.defs.analogs.search import History
from adelie_assets.resources.warehouse import analog_features_table, is_postgres


def block_rows(blocks: Sequence[FeatureBlock]) -> list[dict[str, object]]:
    rows = []
    for block in blocks:
        codes, vectors = pack(block)
        rows.append(
            {
                "trade_date": block.day,
                "kind": block.kind,
                "row_count": len(block.codes),
                "codes": codes,
                "vectors": vectors,
            }
        )
    return rows


def read_blocks(engine: Engine, kind: str, start: date, end: date) -> list[FeatureBlock]:
    table = analog_features_table
    query = (
        sa.select(table.c.trade_date, table.c.codes, table.c.vectors)
        .where(table.c.kind == kind, table.c.trade_date >= start, table.c.trade_date <= end)
        .order_by(table.c.trade_date)
    )
    if is_postgres(engine):
        rows = _copy_binary(engine, query)
    else:
        with engine.connect() as conn:
            rows = [(_as_date(day), codes, vectors) for day, codes, vectors in conn.execute(query)]
    return [unpack(day, kind, codes, vectors) for day, codes, vectors in rows]


_PG_EPOCH = date(2000, 1, 1).toordinal()
_COPY_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def _copy_binary(engine: Engine, query: sa.Select) -> list[tuple[date, bytes, bytes]]:
    """Postgres sends bytea as hex text to a normal query (3x slower for 10 years of blocks);
    COPY ... (FORMAT binary) sends the bytes as they are."""
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    buffer = io.BytesIO()
    with engine.connect() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT binary)", buffer)
        finally:
            cursor.close()
    data = memoryview(buffer.getbuffer())
    if bytes(data[:11]) != _COPY_SIGNATURE:
        raise ValueError("unexpected COPY binary header from Postgres")
    offset = 19 + struct.unpack_from("!i", data, 15)[0]
    rows = []
    while True:
        (fields,) = struct.unpack_from("!h", data, offset)
        offset += 2
        if fields == -1:
            return rows
        values = []
        for _ in range(fields):
            (length,) = struct.unpack_from("!i", data, offset)
            offset += 4
            values.append(data[offset : offset + length])
            offset += length
        (days,) = struct.unpack_from("!i", values[0])
        rows.append((date.fromordinal(_PG_EPOCH + days), values[1], values[2]))


def _as_date(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def load_histories(engine: Engine, day: date, first: date) -> tuple[History, History]:
    """(stock, index) histories of every stored day in [first, day], on the trading calendar."""
    stocks = read_blocks(engine, "stock", first, day)
    indices = read_blocks(engine, "index", first, day)
    start = min((b.day for b in [*stocks[:1], *indices[:1]]), default=day)
    calendar = trading_days(start, day)
    return History.build(stocks, calendar), History.build(indices, calendar)
