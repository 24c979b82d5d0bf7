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
    """CSV COPY, a slice of COPY_SLICE_ROWS rows at a time (memory stays bounded by a slice, not the
    range: 10 years as one CSV string is GBs), all in the caller's transaction, so a failure in any
    slice leaves nothing written."""
    integers = [c.name for c in table.columns if isinstance(c.type, sa.Integer) and c.name in frame.columns]
    # Nullable integers come in as floats ("101.0"), which COPY rejects for BIGINT.
    casts = {name: "Int64" for name in integers if not isinstance(frame[name].dtype, pd.Int64Dtype)}
    if casts:
        frame = frame.astype(casts)
    # In CSV, an unquoted empty field is NULL; FORCE_NOT_NULL keeps an empty text ('') as text.
    texts = [
        c.name for c in table.columns if isinstance(c.type, sa.String | sa.Text) and c.name in frame.columns
    ]
    force = f", FORCE_NOT_NULL ({_quoted(texts)})" if texts else ""
    statement = f'COPY "{table.name}" ({_quoted(frame.columns)}) FROM STDIN WITH (FORMAT csv{force})'
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        for start in range(0, len(frame), COPY_SLICE_ROWS):
            rows = frame.iloc[start : start + COPY_SLICE_ROWS].to_csv(index=False, header=False)
            cursor.copy_expert(statement, io.BytesIO(rows.encode("utf-8")))
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
