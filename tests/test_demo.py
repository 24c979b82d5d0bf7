"""The README's demo command works offline, from a fresh state directory, and labels its output.

The state is the session's one `make demo` (tests/demo_state.py), which the playground tests share.
"""

import shutil
import sqlite3
import subprocess
from pathlib import Path

from tests.demo_state import REPO_ROOT, DemoState, clean_env, demo_argv

HISTORY_DAYS, ROWS_PER_DAY, CASES_PER_DAY = 110, 2388, 5


def test_demo_runs_end_to_end_offline(demo_made: DemoState) -> None:
    out, state = demo_made.output, demo_made.path
    # The last 3 trading days and every day the catch-up sensor would ask for (its default window),
    # so that the playground's daemon finds nothing to catch up.
    (days_line,) = [line for line in out.splitlines() if line.startswith("== Trading days: ")]
    days = len(days_line.removeprefix("== Trading days: ").split(", "))
    assert days >= 3
    assert out.startswith("== DEMO DATA")
    assert out.count("market_data rows (KOSPI 917, KOSDAQ 1471), 5 themes") == days
    assert "History: " in out
    assert f"({HISTORY_DAYS} trading days) of analog_features, market_data, market_indices" in out
    assert out.count("sync_rate ") == days * CASES_PER_DAY  # each case prints the facts of its analog
    assert "make demo-ui" in out
    with sqlite3.connect(state / "warehouse.sqlite") as db:
        # The history (what the analogs search) before the analysed days, which alone get cases.
        rows = db.execute("select count(*) from market_data").fetchone()[0]
        assert rows == (HISTORY_DAYS + days) * ROWS_PER_DAY
        assert db.execute("select count(*) from historical_cases").fetchone()[0] == days * CASES_PER_DAY
    # The runs are in Dagster's default SQLite instance under the demo's DAGSTER_HOME, tagged as demo.
    assert (state / "dagster_home" / "dagster.yaml").exists()
    with sqlite3.connect(state / "dagster_home" / "history" / "runs.db") as db:
        tags = db.execute("select value from run_tags where key = 'adelie/demo'").fetchall()
    # Five range runs (25 days each) for the history, one per analysed day.
    assert tags == [("true",)] * (5 + days)


def test_demo_again_on_an_up_to_date_state_says_so(demo_made: DemoState, tmp_path: Path) -> None:
    state = shutil.copytree(demo_made.path, tmp_path / "state")
    argv = demo_argv(state, "--top-up")
    # From the checkout, as `make demo` runs it: adelie_fakes is not in the wheel, so not installed.
    again = subprocess.run(argv, env=clean_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.startswith(f"== Demo instance {state} is up to date"), again.stdout
