"""Measure a proposed change of `Warehouse._replace` on Postgres without making it: stream the COPY.

Today `_copy_into` renders the whole frame to one CSV string (pandas `to_csv`), then COPYs it: the two
halves run one after the other, and the string of a 10-year range is several GB. The proposal renders
50,000-row slices in a producer thread into an `os.pipe()` that `copy_expert` reads, so the client's
rendering overlaps the server's parsing (another process, another core) and memory stays bounded.

Alternates, on fresh scratch databases: `Warehouse.replace_market_data` as it is; rendering only; COPY of
a pre-rendered CSV only; and the streamed variant (same rows, same COPY statement).

    python bench/what_if_copy.py [--days 487] [--runs 2]
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import median, print_table, scratch_warehouse, workdir  # noqa: E402
from bench_warehouse import synthetic_market_data  # noqa: E402

from adelie_assets.calendar import trading_days  # noqa: E402
from adelie_assets.resources.warehouse import Warehouse, dispose_engines, market_data_table  # noqa: E402

INTEGERS = ["open", "high", "low", "close", "volume", "trading_value", "market_cap"]
COPY_SQL = "COPY market_data ({}) FROM STDIN WITH (FORMAT csv)"


def render(frame) -> io.StringIO:
    buffer = io.StringIO()
    frame.astype(dict.fromkeys(INTEGERS, "Int64")).to_csv(buffer, index=False, header=False)
    buffer.seek(0)
    return buffer


def copy(url: str, source, columns: list[str]) -> None:
    engine = Warehouse(url=url).engine()
    with engine.begin() as conn:
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.copy_expert(COPY_SQL.format(", ".join(f'"{c}"' for c in columns)), source, size=65536)
        finally:
            cursor.close()


def streamed_copy(url: str, frame, rows: int = 50_000) -> None:
    """The proposal: a producer thread renders slices into a pipe while COPY consumes it."""
    frame = frame.astype(dict.fromkeys(INTEGERS, "Int64"))
    read_fd, write_fd = os.pipe()
    failure: list[BaseException] = []

    def produce() -> None:
        try:
            with os.fdopen(write_fd, "wb") as sink:
                for start in range(0, len(frame), rows):
                    sink.write(frame.iloc[start : start + rows].to_csv(index=False, header=False).encode())
        except BaseException as exc:  # surfaced after COPY; a broken pipe ends the COPY early
            failure.append(exc)

    producer = threading.Thread(target=produce, daemon=True)
    producer.start()
    with os.fdopen(read_fd, "rb") as source:
        copy(url, source, list(frame.columns))
    producer.join()
    if failure:
        raise failure[0]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=int, default=487, help="trading days written in one call (~2 years)")
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args(argv)

    days = trading_days(date(2015, 1, 2), date(2026, 11, 27))[-args.days :]
    frame = synthetic_market_data(days)[[c.name for c in market_data_table.columns]]
    print(f"what_if_copy: {len(frame):,} rows ({len(days)} days); load average {os.getloadavg()[0]:.2f}")
    variants = [
        "as-is (replace_market_data)",
        "render CSV only",
        "COPY pre-rendered CSV only",
        "streamed COPY",
    ]
    timings: dict[str, list[float]] = {v: [] for v in variants}
    with workdir("what_if_copy") as wd:
        for _ in range(args.runs):
            for variant in variants:
                with scratch_warehouse("postgres", wd) as url:
                    Warehouse(url=url).engine()  # tables, outside the measurement
                    started = time.perf_counter()
                    if variant.startswith("as-is"):
                        Warehouse(url=url).replace_market_data(days, frame)
                    elif variant == "render CSV only":
                        render(frame)
                    elif variant.startswith("COPY"):
                        buffer = render(frame)
                        started = time.perf_counter()
                        copy(url, buffer, list(frame.columns))
                    else:
                        streamed_copy(url, frame)
                    elapsed = time.perf_counter() - started
                    if variant != "render CSV only":
                        with Warehouse(url=url).engine().connect() as conn:
                            stored = conn.exec_driver_sql("SELECT count(*) FROM market_data").scalar_one()
                        assert stored == len(frame), f"{variant} stored {stored} of {len(frame)} rows"
                    dispose_engines()
                timings[variant].append(elapsed)
                print(f"  {variant:28} {elapsed:6.2f} s", flush=True)
    print()
    print_table(
        ["variant", "median", "rows/s"],
        [[v, f"{median(t):.2f} s", f"{len(frame) / median(t):,.0f}"] for v, t in timings.items()],
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
