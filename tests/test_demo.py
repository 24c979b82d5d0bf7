"""The README's demo command works offline, from a fresh state directory, and labels its output."""

import os
import sqlite3
import subprocess
import sys
from pathlib import Path


def test_demo_runs_end_to_end_offline(tmp_path: Path) -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("KRX_", "OPENAI_", "ADELIE_", "DAGSTER_"))
    }
    # Catch-up off: only the two days asked for (the sensor's window is the playground tests' business).
    env["ADELIE_CATCH_UP_DAYS"] = "0"
    state = tmp_path / "demo"
    argv = [sys.executable, "-m", "adelie_fakes.demo", "--days", "2", "--history-days", "110"]
    proc = subprocess.run(
        [*argv, "--state-dir", str(state)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=480,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert out.startswith("== DEMO DATA")
    assert out.count("market_data rows (KOSPI 917, KOSDAQ 1471), 5 themes") == 2
    assert "History: " in out
    assert "(110 trading days) of analog_features, market_data, market_indices" in out
    assert out.count("sync_rate ") == 10  # each case prints the facts copied from its analog
    assert "make demo-ui" in out
    with sqlite3.connect(state / "warehouse.sqlite") as db:
        # 110 days of history (what the analogs search) before the two analysed days, which alone get cases.
        assert db.execute("select count(*) from market_data").fetchone()[0] == 112 * 2388
        assert db.execute("select count(*) from historical_cases").fetchone()[0] == 10
    # The runs are in Dagster's default SQLite instance under the demo's DAGSTER_HOME, tagged as demo.
    assert (state / "dagster_home" / "history" / "runs.db").exists()
    with sqlite3.connect(state / "dagster_home" / "history" / "runs.db") as db:
        tags = db.execute("select value from run_tags where key = 'adelie/demo'").fetchall()
    assert tags == [("true",)] * 7  # five range runs (25 days each) for the history, one per analysed day
    assert (state / "dagster_home" / "dagster.yaml").exists()

    again = subprocess.run(
        [*argv, "--top-up", "--state-dir", str(state)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.startswith(f"== Demo instance {state} is up to date"), again.stdout
