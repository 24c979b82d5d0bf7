"""Bulk loads into the warehouse: COPY on Postgres, bound-parameter inserts elsewhere."""

import io
from collections.abc import Iterable
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

COPY_SLICE_ROWS = 50_000


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def copy_into(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    integers = [c.name for c in table.columns if isinstance(c.type, sa.Integer) and c.name in frame.columns]
    # Nullable integers come in as floats ("101.0"), which COPY rejects for BIGINT.
    frame = frame.astype({name: "Int64" for name in integers})
    # In CSV, an unquoted empty field is NULL; FORCE_NOT_NULL keeps an empty text ('') as text.
    texts = [
        c.name for c in table.columns if isinstance(c.type, sa.String | sa.Text) and c.name in frame.columns
    ]
    force = f", FORCE_NOT_NULL ({_quoted(texts)})" if texts else ""
    statement = f'COPY "{table.name}" ({_quoted(frame.columns)}) FROM STDIN WITH (FORMAT csv{force})'
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        # Slices keep memory bounded by a slice, not the range (10 years as one CSV string is GBs);
        # they all belong to the caller's transaction.
        for start in range(0, len(frame), COPY_SLICE_ROWS):
            buffer = io.StringIO()
            frame.iloc[start : start + COPY_SLICE_ROWS].to_csv(buffer, index=False, header=False)
            buffer.seek(0)
            cursor.copy_expert(statement, buffer)
    finally:
        cursor.close()


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # None, not NaN/NA, so that the database stores NULL.
    return [
        {
            key: (None if value is pd.NA or (isinstance(value, float) and value != value) else value)
            for key, value in row.items()
        }
        for row in frame.astype(object).to_dict("records")
    ]
