"""Bulk loads into the warehouse: COPY on Postgres, bound-parameter inserts elsewhere."""

import os
import threading
from collections.abc import Iterable
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

COPY_SLICE_ROWS = 50_000
COPY_READ_BYTES = 1 << 16  # what copy_expert asks the pipe for at a time (one pipe buffer)


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
        _streamed_copy(cursor, statement, frame)
    finally:
        cursor.close()


def _streamed_copy(cursor: Any, statement: str, frame: pd.DataFrame) -> None:
    """One COPY fed by a thread that renders the frame slice by slice into a pipe: rendering and the
    server's parsing overlap (the slices one after the other cost ~1.4x), and memory stays bounded by
    a slice plus the pipe, not the range (10 years as one CSV string is GBs). It is all one COPY in
    the caller's transaction, so a failure on either side leaves nothing written."""
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb") as sink:
                for start in range(0, len(frame), COPY_SLICE_ROWS):
                    rows = frame.iloc[start : start + COPY_SLICE_ROWS]
                    sink.write(rows.to_csv(index=False, header=False).encode("utf-8"))
        except BrokenPipeError:
            pass  # the COPY stopped reading: its own error is the one to report
        except BaseException as error:  # noqa: BLE001 - re-raised in the caller's thread below
            failure.append(error)

    producer = threading.Thread(target=produce, name="warehouse-copy", daemon=True)
    with os.fdopen(read_fd, "rb") as source:
        producer.start()
        try:
            cursor.copy_expert(statement, source, size=COPY_READ_BYTES)
        finally:
            source.close()  # a producer still writing gets a broken pipe instead of blocking
            producer.join()
            # A failed rendering ends the stream early: report it, not what the short COPY did.
            if failure:
                raise failure[0]


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # None, not NaN/NA, so that the database stores NULL.
    return [
        {
            key: (None if value is pd.NA or (isinstance(value, float) and value != value) else value)
            for key, value in row.items()
        }
        for row in frame.astype(object).to_dict("records")
    ]
