"""Bulk loads into the warehouse: COPY on Postgres, bound-parameter inserts elsewhere."""

import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from pandas.api.types import infer_dtype
from sqlalchemy.engine import Connection

COPY_SLICE_ROWS = 50_000
COPY_READ_BYTES = 1 << 16  # what copy_expert asks the pipe for at a time (one pipe buffer)

# COPY's binary format (PostgreSQL docs, COPY, "Binary Format"): a signature, int32 flags and int32
# header-extension length; per row an int16 field count, per field an int32 length (-1: NULL) and
# the value's bytes, big-endian; an int16 -1 at the end.
BINARY_HEADER = b"PGCOPY\n\xff\r\n\x00" + bytes(8)
BINARY_TRAILER = b"\xff\xff"
PG_EPOCH_ORDINAL = 730_120  # date(2000, 1, 1).toordinal(): binary dates count days from there
FIXED_WIDTH = {"bool": "?", "int2": ">i2", "int4": ">i4", "int8": ">i8", "float8": ">f8", "date": ">i4"}
INTEGER_BOUNDS = {"int2": 2**15, "int4": 2**31}
# A slice's rows are laid out at the widest text of each column: one long text must not make every row
# of the slice that long, so a slice wider than this is encoded in halves.
BINARY_SLICE_BYTES = 1 << 26


def _quoted(names: Iterable[str]) -> str:
    return ", ".join(f'"{name}"' for name in names)


def copy_into(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> None:
    integers = [c.name for c in table.columns if isinstance(c.type, sa.Integer) and c.name in frame.columns]
    # Nullable integers come in as floats ("101.0"), which COPY rejects for BIGINT. Columns already
    # Int64 are not copied: for 10 years that is ~400 MB.
    casts = {name: "Int64" for name in integers if not isinstance(frame[name].dtype, pd.Int64Dtype)}
    if casts:
        frame = frame.astype(casts)
    kinds = _binary_kinds(table, frame)
    if kinds is None:
        statement, chunks = _csv_copy(table, frame)
    else:
        statement = f'COPY "{table.name}" ({_quoted(frame.columns)}) FROM STDIN WITH (FORMAT binary)'
        chunks = _binary_chunks(frame, kinds)
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        _streamed_copy(cursor, statement, chunks)
    finally:
        cursor.close()


def _csv_copy(table: sa.Table, frame: pd.DataFrame) -> tuple[str, Iterator[bytes]]:
    # In CSV, an unquoted empty field is NULL; FORCE_NOT_NULL keeps an empty text ('') as text.
    texts = [
        c.name for c in table.columns if isinstance(c.type, sa.String | sa.Text) and c.name in frame.columns
    ]
    force = f", FORCE_NOT_NULL ({_quoted(texts)})" if texts else ""
    statement = f'COPY "{table.name}" ({_quoted(frame.columns)}) FROM STDIN WITH (FORMAT csv{force})'
    chunks = (
        frame.iloc[start : start + COPY_SLICE_ROWS].to_csv(index=False, header=False).encode("utf-8")
        for start in range(0, len(frame), COPY_SLICE_ROWS)
    )
    return statement, chunks


# --- binary COPY ---------------------------------------------------------------------------------


def _binary_kinds(table: sa.Table, frame: pd.DataFrame) -> list[str] | None:
    """Each column's binary encoding, or None when one column holds values that the binary form would
    not store exactly as the CSV did (then the write takes the CSV, whose errors the server reports
    as before: a float text in an INTEGER column, a NULL in a bool, an int beyond INTEGER...)."""
    kinds = []
    for name in frame.columns:
        # A column the table does not have: the CSV's COPY names it in its error, as before.
        kind = _binary_kind(table.columns[name].type, frame[name]) if name in table.columns else None
        if kind is None:
            return None
        kinds.append(kind)
    return kinds


def _binary_kind(column_type: sa.types.TypeEngine, values: pd.Series) -> str | None:
    if isinstance(column_type, sa.Boolean):
        return "bool" if values.dtype == np.bool_ else None
    if isinstance(column_type, sa.Integer):
        if not isinstance(values.dtype, pd.Int64Dtype):
            return None
        if isinstance(column_type, sa.BigInteger):
            return "int8"
        kind = "int2" if isinstance(column_type, sa.SmallInteger) else "int4"
        low, high, bound = values.min(), values.max(), INTEGER_BOUNDS[kind]  # NA: every value is NULL
        return kind if low is pd.NA or (-bound <= low and high < bound) else None
    if isinstance(column_type, sa.Float):
        # FLOAT(p <= 24) is a 4-byte REAL; a float32 frame column prints shorter digits than its double.
        single = isinstance(column_type, sa.REAL) or (column_type.precision or 53) <= 24
        return "float8" if values.dtype == np.float64 and not single else None
    if isinstance(column_type, sa.Date):
        # datetime.date values (a datetime counts as its date, as the CSV's text did); no NULL.
        return "date" if values.dtype == object and infer_dtype(values, skipna=False) == "date" else None
    if isinstance(column_type, sa.String) and not isinstance(column_type, sa.Enum):
        # str values only: a None or a non-str object takes the CSV, which prints it as today.
        return "text" if values.dtype == object and infer_dtype(values, skipna=False) == "string" else None
    return None


def _binary_chunks(frame: pd.DataFrame, kinds: list[str]) -> Iterator[Any]:
    yield BINARY_HEADER
    for start in range(0, len(frame), COPY_SLICE_ROWS):
        yield from _binary_rows(frame.iloc[start : start + COPY_SLICE_ROWS], kinds)
    yield BINARY_TRAILER


def _binary_rows(frame: pd.DataFrame, kinds: list[str]) -> Iterator[np.ndarray]:
    """The rows of `frame` in COPY's binary format, as uint8 arrays, vectorised per column: each row
    is first laid out in a structured array at each field's widest width, then the bytes beyond a
    field's length (a shorter text, a NULL's value) are dropped with one boolean mask."""
    fields = [_binary_field(frame[name], kind) for name, kind in zip(frame.columns, kinds, strict=True)]
    layout = [("count", ">i2")]
    for i, (values, _) in enumerate(fields):
        layout += [(f"length{i}", ">i4"), (f"value{i}", values.dtype)]
    if len(frame) > 1 and np.dtype(layout).itemsize * len(frame) > BINARY_SLICE_BYTES:
        half = len(frame) // 2
        yield from _binary_rows(frame.iloc[:half], kinds)
        yield from _binary_rows(frame.iloc[half:], kinds)
        return
    rows = np.empty(len(frame), np.dtype(layout))
    rows["count"] = len(fields)
    keep = np.ones((len(frame), rows.itemsize), bool)
    for i, (values, lengths) in enumerate(fields):
        rows[f"length{i}"] = lengths
        rows[f"value{i}"] = values
        width = values.dtype.itemsize
        if isinstance(lengths, np.ndarray) and (lengths != width).any():
            offset = rows.dtype.fields[f"value{i}"][1]
            keep[:, offset : offset + width] = np.arange(width) < lengths[:, None]
    yield rows.view(np.uint8).reshape(len(frame), rows.itemsize)[keep]


def _binary_field(values: pd.Series, kind: str) -> tuple[np.ndarray, np.ndarray | int]:
    """The field's values (fixed width, big-endian) and lengths: an int32 per row (-1 for NULL), or
    one int when every row has the same."""
    if kind == "text":
        return _text_field(values)
    dtype = np.dtype(FIXED_WIDTH[kind])
    if kind == "date":
        # Tickers' days repeat: convert each distinct date once, not once per row.
        codes, uniques = pd.factorize(values)
        days = np.array([d.toordinal() - PG_EPOCH_ORDINAL for d in uniques], dtype=dtype)
        return days[codes], dtype.itemsize
    if kind == "bool":
        return values.to_numpy(np.bool_), dtype.itemsize
    if kind == "float8":
        numbers = values.to_numpy(np.float64)
        nulls = np.isnan(numbers)  # the CSV wrote NaN as an empty field: NULL
    else:
        numbers = values.array.to_numpy(np.int64, na_value=0)
        nulls = values.isna().to_numpy()
    lengths = np.where(nulls, -1, dtype.itemsize).astype(np.int32) if nulls.any() else dtype.itemsize
    return numbers.astype(dtype), lengths


def _text_field(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    # Names, tickers and markets repeat every day: each distinct text is encoded once per slice.
    # Lengths come from the bytes, not the padded array, which would drop a trailing NUL.
    codes, uniques = pd.factorize(values)
    encoded = pd.Series(uniques, dtype=object).str.encode("utf-8")
    padded = np.array(encoded.tolist(), dtype=bytes)
    return padded[codes], encoded.str.len().to_numpy(np.int32)[codes]


# --- the stream ------------------------------------------------------------------------------------


def _streamed_copy(cursor: Any, statement: str, chunks: Iterable[Any]) -> None:
    """One COPY fed by a thread that renders the frame slice by slice (`chunks`, evaluated in that
    thread) into a pipe: rendering and the server's parsing overlap (the slices one after the other
    cost ~1.4x), and memory stays bounded by a slice plus the pipe, not the range (10 years as one
    CSV string is GBs). It is all one COPY in the caller's transaction, so a failure on either side
    leaves nothing written."""
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb") as sink:
                for chunk in chunks:
                    sink.write(chunk)
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
