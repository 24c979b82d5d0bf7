"""The README's demo command works offline, from a fresh state directory, and labels its output.

The state is the session's one `make demo` (tests/demo_state.py), which the playground tests share.
"""

import shutil
import sqlite3
import subprocess
from pathlib import Path

from tests.demo_state import REPO_ROOT, DemoState, clean_env, demo_argv

HISTORY_DAYS, ROWS_PER_DAY, CASES_PER_DAY = 110, 2388, 5
# The day inside a market episode (adelie_fakes/demo.py) has its own 100 days of history.
EPISODE_DAY, EPISODE, EPISODE_HISTORY_DAYS = "2025-08-29", "2025년 코스피 4000 돌파 랠리", 100


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
    history = HISTORY_DAYS + EPISODE_HISTORY_DAYS
    assert f"({history} trading days) of analog_features, market_data, market_indices" in out
    assert days_line.startswith(f"== Trading days: {EPISODE_DAY}, ")
    # Every analog of that day sat in the 2025 rally: its cases name the episode, as the fake model does.
    episode_day = out[
        out.index(f"\n{EPISODE_DAY}: ") : out.index("\n\n", out.index(f"\n{EPISODE_DAY}: ") + 1)
    ]
    assert episode_day.count(EPISODE) >= CASES_PER_DAY, episode_day
    assert out.count("sync_rate ") == days * CASES_PER_DAY  # each case prints the facts of its analog
    assert "make demo-ui" in out
    with sqlite3.connect(state / "warehouse.sqlite") as db:
        # The history (what the analogs search) before the analysed days, which alone get cases.
        rows = db.execute("select count(*) from market_data").fetchone()[0]
        assert rows == (HISTORY_DAYS + EPISODE_HISTORY_DAYS + days) * ROWS_PER_DAY
        assert db.execute("select count(*) from historical_cases").fetchone()[0] == days * CASES_PER_DAY
    # The runs are in Dagster's default SQLite instance under the demo's DAGSTER_HOME, tagged as demo.
    assert (state / "dagster_home" / "dagster.yaml").exists()
    with sqlite3.connect(state / "dagster_home" / "history" / "runs.db") as db:
        tags = db.execute("select value from run_tags where key = 'adelie/demo'").fetchall()
    # Range runs of 25 days: five for the recent history, four for the episode day's; one per analysed day.
    assert tags == [("true",)] * (5 + 4 + days)


def test_demo_again_on_an_up_to_date_state_says_so(demo_made: DemoState, tmp_path: Path) -> None:
    state = shutil.copytree(demo_made.path, tmp_path / "state")
    argv = demo_argv(state, "--top-up")
    # From the checkout, as `make demo` runs: adelie_fakes is not in the installed package (09091ea).
    again = subprocess.run(argv, env=clean_env(), cwd=REPO_ROOT, capture_output=True, text=True, timeout=240)
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.startswith(f"== Demo instance {state} is up to date"), again.stdout
