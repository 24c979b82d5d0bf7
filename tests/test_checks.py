"""Asset checks: each passes on good data, fails on the bad data it exists for; blocking ones gate the job."""

import sqlite3
from datetime import date

import pandas as pd
import pytest
from dagster import (
    AssetCheckKey,
    AssetCheckSeverity,
    AssetExecutionContext,
    AssetSelection,
    AssetSpec,
    DagsterInstance,
    Definitions,
    define_asset_job,
    multi_asset,
)

from adelie_assets.calendar import trading_day_partitions
from adelie_assets.definitions import defs
from adelie_assets.defs.analogs.assets import analog_features, market_analogs
from adelie_assets.defs.cases.assets import historical_cases
from adelie_assets.defs.cases.daily_themes import daily_themes
from adelie_assets.defs.market.assets import market_data
from adelie_assets.defs.market.checks import markets_covered_verdict, unique_keys_verdict
from adelie_assets.lib.partitioned_checks import Verdict, check_specs, daily_check, stored_check_results
from adelie_assets.resources.krx import KRX
from adelie_assets.resources.llm import LLM
from adelie_assets.resources.warehouse import Warehouse, daily_themes_table, market_analogs_table
from adelie_fakes.krx import FakeKrx
from adelie_fakes.openai import FakeOpenAI
from tests.builders import executed_steps, krx_for, market_frame, step_failures
from tests.history import seed_history_before

DAY = date(2026, 11, 27)
KEY = DAY.isoformat()
PREVIOUS = date(2026, 11, 26)
MARKET_CHECKS = {
    "markets_covered",
    "unique_keys",
    "prices_consistent",
    "not_all_zero",
    "row_count_stable",
    "within_price_limit",
}
CASES_CHECKS = {
    "expected_case_count",
    "related_tickers_exist",
    "unique_titles",
    "required_fields",
    "facts_match_analogs",
    "written_by_model",
}
ANALOG_CHECKS = {
    ("daily_themes", "themes_are_sound"),
    ("analog_features", "features_cover_the_day"),
    ("market_analogs", "analogs_are_sound"),
}
INDEX_CHECKS = {"both_indices_present", "index_values_plausible", "index_move_plausible"}
APP_CHECKS = {
    ("app_briefing", "one_briefing"),
    ("app_briefing", "five_keywords_with_cases"),
    ("app_briefing", "selection_reasons"),
    ("app_briefing", "market_summary_present"),
    ("app_cases", "similarity_score_range"),
    ("app_cases", "three_devils_advocate_bullets"),
}
WARN_CHECKS = {
    "row_count_stable",
    "within_price_limit",
    "index_move_plausible",
    "market_summary_present",
    "written_by_model",
}


class TamperedKRX(KRX):
    """The real KRX resource (against the fake), with the day's rows changed before they are stored."""

    tamper: str = "none"

    def fetch_day(self, day: date) -> pd.DataFrame:
        frame = super().fetch_day(day)
        traded = frame.index[~frame["halted"]]
        if self.tamper == "inverted_prices":
            # KRX swapped high and low for a few tickers: stored as-is, only a check can see it.
            rows = traded[:7]
            frame.loc[rows, ["high", "low"]] = frame.loc[rows, ["low", "high"]].to_numpy()
            frame.loc[rows, "low"] = frame.loc[rows, "high"] + 100
        elif self.tamper == "beyond_limit":
            frame.loc[traded[: len(traded) // 20], "change_pct"] = 45.0
        return frame


@pytest.fixture(scope="module")
def fakes():
    with FakeKrx() as krx, FakeOpenAI() as llm:
        yield krx, llm


def tampered_krx(fake: FakeKrx, tamper: str) -> TamperedKRX:
    settings = krx_for(fake)
    fields = ("krx_id", "krx_pw", "base_url", "delay_seconds", "timeout_seconds", "retry_backoff_seconds")
    return TamperedKRX(tamper=tamper, **{name: getattr(settings, name) for name in fields})


def run_pipeline(
    fakes, warehouse: Warehouse, key: str = KEY, tamper: str = "none", run_config=None, seed: bool = True
):
    krx_fake, llm_fake = fakes
    krx_fake.reset()
    llm_fake.reset()
    if seed:
        seed_history_before(warehouse, date.fromisoformat(key))  # what market_analogs searches
    resources = {
        "krx": tampered_krx(krx_fake, tamper),
        "llm": LLM(api_key=llm_fake.api_key, base_url=llm_fake.base_url),
        "warehouse": warehouse,
    }
    return defs.resolve_job_def("daily_pipeline").execute_in_process(
        partition_key=key,
        run_config=run_config or {},
        instance=DagsterInstance.ephemeral(),
        resources=resources,
        raise_on_error=False,
    )


def evaluations(result) -> dict[str, list]:
    """check name -> its evaluations in the run, in order."""
    found: dict[str, list] = {}
    for event in result.all_events:
        if event.event_type_value == "ASSET_CHECK_EVALUATION":
            evaluation = event.event_specific_data
            found.setdefault(evaluation.check_name, []).append(evaluation)
    return found


def only(result, name: str):
    (evaluation,) = evaluations(result)[name]
    return evaluation


def figures(evaluation) -> dict[str, object]:
    return {k: v.value for k, v in evaluation.metadata.items()}


def run_checks(warehouse: Warehouse, asset, tags: dict[str, str] | None = None):
    """Only the checks of `asset`, as the UI's "Execute checks" does, for the day(s) in the tags."""
    job = define_asset_job("checks_only", selection=AssetSelection.checks_for_assets(asset))
    check_defs = Definitions(
        assets=[market_data, daily_themes, analog_features, market_analogs, historical_cases],
        jobs=[job],
        resources={"warehouse": warehouse, "krx": KRX(), "llm": LLM()},
    )
    # A check-only job has no asset to infer partitions from, so 1.13 refuses partition_key= here;
    # the partition tag is what the UI sets.
    return check_defs.resolve_job_def("checks_only").execute_in_process(
        tags=tags or {"dagster/partition": KEY},
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


# --- definitions ---------------------------------------------------------------------------------


def test_checks_are_registered_partitioned_and_in_the_daily_job() -> None:
    job = defs.resolve_job_def("daily_pipeline")
    keys = job.asset_layer.asset_graph.asset_check_keys
    assert {(k.asset_key.to_user_string(), k.name) for k in keys} == {
        ("market_data", n) for n in MARKET_CHECKS
    } | {("market_indices", n) for n in INDEX_CHECKS} | {
        ("historical_cases", n) for n in CASES_CHECKS
    } | ANALOG_CHECKS | APP_CHECKS
    graph = defs.get_repository_def().asset_graph
    for key in keys:
        spec = graph.get_check_spec(key)
        assert spec.partitions_def == trading_day_partitions
        assert spec.blocking is (key.name not in WARN_CHECKS)


# --- good data: everything passes, through the real job -----------------------------------------


def test_a_good_day_passes_every_check_with_its_figures(fakes, warehouse_url: str) -> None:
    warehouse = Warehouse(url=warehouse_url)
    seed_history_before(warehouse, DAY)
    warehouse.replace_market_data([PREVIOUS], market_frame(PREVIOUS, per_market=1194))
    result = run_pipeline(fakes, warehouse, seed=False)
    assert result.success
    found = evaluations(result)
    assert set(found) == MARKET_CHECKS | INDEX_CHECKS | CASES_CHECKS | {
        name for _, name in ANALOG_CHECKS | APP_CHECKS
    }
    for name, (evaluation,) in found.items():
        assert evaluation.passed, (name, evaluation.description)
        assert evaluation.partition == KEY and evaluation.metadata
    assert figures(only(result, "markets_covered"))["rows_kosdaq"] == 1471
    assert figures(only(result, "row_count_stable"))["previous_rows"] == 2388
    assert figures(only(result, "expected_case_count"))["expected"] == 5
    assert figures(only(result, "related_tickers_exist"))["unknown_tickers"] == 0


# --- blocking: a failed check stops historical_cases and fails the run ---------------------------


def test_bad_rows_are_refused_by_the_guards_before_the_write_and_stop_historical_cases(
    fakes, sqlite_warehouse_url: str
) -> None:
    warehouse = Warehouse(url=sqlite_warehouse_url)
    result = run_pipeline(fakes, warehouse, tamper="inverted_prices")
    assert not result.success
    text = step_failures(result)["market_data"]
    assert "[prices_consistent] 7 tickers have missing, non-positive or inconsistent prices" in text
    assert "nothing was replaced" in text and "ADELIE_WAREHOUSE_URL" not in text
    assert "historical_cases" not in executed_steps(result)
    assert fakes[1].completion_count == 0
    assert warehouse.read_market_data([DAY]).empty and warehouse.read_historical_cases([DAY]).empty


def test_failing_blocking_check_keeps_historical_cases_from_running(fakes, sqlite_warehouse_url: str) -> None:
    """Rows that pass the guards but fail a blocking check (here: the stored rows were changed after
    the write, as a check-only run sees them) still stop the job at the check."""
    warehouse = Warehouse(url=sqlite_warehouse_url)
    assert run_pipeline(fakes, warehouse).success
    good = warehouse.read_market_data([DAY])
    rows = good.index[~good["halted"]][:7]
    good.loc[rows, "low"] = good.loc[rows, "high"] + 100
    warehouse.replace_market_data([DAY], good)
    result = run_checks(warehouse, market_data)
    failed = only(result, "prices_consistent")
    assert not failed.passed and failed.severity == AssetCheckSeverity.ERROR and failed.blocking
    assert failed.partition == KEY
    assert figures(failed)["low_open_close_high_violations"] == 7


def test_failing_warn_check_does_not_block_and_the_run_config_sets_the_case_count(
    fakes, sqlite_warehouse_url: str
) -> None:
    warehouse = Warehouse(url=sqlite_warehouse_url)
    config = {"ops": {"daily_themes": {"config": {"theme_count": 3}}}}
    result = run_pipeline(fakes, warehouse, tamper="beyond_limit", run_config=config)
    # Only the app's Home refuses a day of three keywords (it shows five): its guard refuses the publish
    # before the commit. The WARN check blocked nothing.
    failed = [e for found in evaluations(result).values() for e in found if not e.passed]
    names = {e.check_name for e in failed}
    assert "within_price_limit" in names and names <= WARN_CHECKS
    assert "[five_keywords_with_cases]" in step_failures(result)["app_feed"]
    warned = only(result, "within_price_limit")
    assert not warned.passed and warned.severity == AssetCheckSeverity.WARN
    assert figures(warned)["beyond_limit"] == 2299 // 20
    assert "historical_cases" in executed_steps(result)
    count = only(result, "expected_case_count")
    assert count.passed and figures(count)["expected"] == 3 and figures(count)["cases"] == 3


# --- each market_data check on the bad rows it exists for ----------------------------------------


def good_day(day: date = DAY) -> pd.DataFrame:
    return market_frame(day, per_market=600)


def traded_index(frame: pd.DataFrame) -> pd.Index:
    return frame.index[~frame["halted"]]


def kosdaq_short(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[(frame["market"] == "KOSPI") | (frame.index < 600 + 100)]


def bad_prices(frame: pd.DataFrame) -> pd.DataFrame:
    traded = traded_index(frame)
    frame.loc[traded[:3], "low"] = frame.loc[traded[:3], "open"] + 1  # low above open
    frame.loc[traded[3], "high"] = 0
    frame.loc[frame.index[frame["halted"]][0], "close"] = 0
    return frame


def all_zero(frame: pd.DataFrame) -> pd.DataFrame:
    frame[["volume", "trading_value"]] = 0
    frame["halted"] = True
    frame[["open", "high", "low"]] = None
    return frame


def beyond_limit(frame: pd.DataFrame) -> pd.DataFrame:
    frame.loc[traded_index(frame)[:12], "change_pct"] = -61.5  # a unit bug, not new listings
    return frame


def test_the_untampered_rows_pass_every_market_check(sqlite_warehouse_url: str) -> None:
    """The control for the cases below: only the tampering makes them fail."""
    warehouse = Warehouse(url=sqlite_warehouse_url)
    warehouse.replace_market_data([DAY], good_day())
    result = run_checks(warehouse, market_data)
    assert result.success
    assert {name: e[0].passed for name, e in evaluations(result).items()} == dict.fromkeys(
        MARKET_CHECKS, True
    )


@pytest.mark.parametrize(
    ("check", "tamper", "figure", "value", "words"),
    [
        ("markets_covered", kosdaq_short, "rows_kosdaq", 100, "KOSDAQ 100 rows"),
        ("prices_consistent", bad_prices, "low_open_close_high_violations", 3, "5 tickers"),
        ("not_all_zero", all_zero, "traded_tickers", 0, "No trading at all"),
        ("within_price_limit", beyond_limit, "beyond_limit", 12, "beyond the ±30% daily limit"),
    ],
)
def test_market_check_fails_on_the_bad_rows_it_exists_for(
    sqlite_warehouse_url: str, check: str, tamper, figure: str, value: int, words: str
) -> None:
    # The checks only read through Warehouse, which runs on Postgres in the good-day test above.
    warehouse = Warehouse(url=sqlite_warehouse_url)
    warehouse.replace_market_data([DAY], tamper(good_day()))
    result = run_checks(warehouse, market_data)
    evaluation = only(result, check)
    assert not evaluation.passed and evaluation.partition == KEY
    assert figures(evaluation)[figure] == value
    assert words in evaluation.description
    blocking = check not in WARN_CHECKS
    assert result.success is not blocking


def test_row_count_change_warns_against_the_previous_trading_day(sqlite_warehouse_url: str) -> None:
    warehouse = Warehouse(url=sqlite_warehouse_url)
    warehouse.replace_market_data([DAY], good_day())
    first = only(run_checks(warehouse, market_data), "row_count_stable")
    assert first.passed and "No rows of 2026-11-26" in first.description
    warehouse.replace_market_data([PREVIOUS], market_frame(PREVIOUS, per_market=660))
    result = run_checks(warehouse, market_data)
    evaluation = only(result, "row_count_stable")
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    assert figures(evaluation)["previous_rows"] == 1320 and figures(evaluation)["change_pct"] == -9.09
    assert result.success  # a WARN check never fails the run


def test_duplicate_keys_fail_in_a_table_without_the_primary_key(tmp_path) -> None:
    # The warehouse's own table has the key as its primary key; a table created by another tool
    # (or a migration that lost it) does not, and that is what this check is for.
    path = tmp_path / "legacy.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE market_data (trade_date DATE, ticker VARCHAR(12), name TEXT, market VARCHAR(8), "
            "open BIGINT, high BIGINT, low BIGINT, close BIGINT, volume BIGINT, trading_value BIGINT, "
            "change_pct FLOAT, market_cap BIGINT, halted BOOLEAN)"
        )
    warehouse = Warehouse(url=f"sqlite:///{path}")
    frame = good_day()
    warehouse.replace_market_data([DAY], pd.concat([frame, frame.iloc[:4]], ignore_index=True))
    evaluation = only(run_checks(warehouse, market_data), "unique_keys")
    assert not evaluation.passed
    assert figures(evaluation)["duplicated_keys"] == 4
    assert figures(evaluation)["examples"] == "000000, 000001, 000002, 000003"
    assert unique_keys_verdict(frame).passed


def test_a_range_run_records_each_day_separately(sqlite_warehouse_url: str) -> None:
    warehouse = Warehouse(url=sqlite_warehouse_url)
    warehouse.replace_market_data([PREVIOUS], good_day(PREVIOUS))
    warehouse.replace_market_data([DAY], kosdaq_short(good_day()))
    result = run_checks(
        warehouse,
        market_data,
        {
            "dagster/asset_partition_range_start": PREVIOUS.isoformat(),
            "dagster/asset_partition_range_end": KEY,
        },
    )
    found = evaluations(result)["markets_covered"]
    assert [(e.partition, e.passed) for e in found] == [(PREVIOUS.isoformat(), True), (KEY, False)]
    assert not result.success
    # The asset's own step runs all six checks over the rows it read once (only the checks are
    # selected, so it writes nothing); each check still has a result per day.
    assert executed_steps(result) == {"market_data"}
    assert {name: [e.partition for e in found] for name, found in evaluations(result).items()} == {
        name: [PREVIOUS.isoformat(), KEY] for name in MARKET_CHECKS
    }
    # The second day is compared with the first day's rows of the same read.
    (_, second) = evaluations(result)["row_count_stable"]
    assert figures(second)["previous_rows"] == len(good_day(PREVIOUS))


def test_the_ui_can_execute_one_check_alone(sqlite_warehouse_url: str) -> None:
    warehouse = Warehouse(url=sqlite_warehouse_url)
    warehouse.replace_market_data([DAY], kosdaq_short(good_day()))
    job = define_asset_job(
        "one_check", selection=AssetSelection.checks(AssetCheckKey(market_data.key, "markets_covered"))
    )
    result = (
        Definitions(
            assets=[market_data],
            jobs=[job],
            resources={"warehouse": warehouse, "krx": KRX()},
        )
        .resolve_job_def("one_check")
        .execute_in_process(
            tags={"dagster/partition": KEY}, instance=DagsterInstance.ephemeral(), raise_on_error=False
        )
    )
    assert set(evaluations(result)) == {"markets_covered"}
    assert not only(result, "markets_covered").passed


def test_a_check_that_raises_fails_the_step_and_the_others_still_report(sqlite_warehouse_url: str) -> None:
    def broken_verdict(rows: pd.DataFrame) -> Verdict:
        raise KeyError("close_price")

    declared = [
        daily_check(
            market_data, "broken", broken_verdict, reads=(Warehouse.read_market_data,), description="x"
        ),
        daily_check(
            market_data,
            "covered",
            markets_covered_verdict,
            reads=(Warehouse.read_market_data,),
            description="y",
        ),
    ]

    @multi_asset(
        name="market_data",
        specs=[AssetSpec("market_data")],
        check_specs=check_specs(declared),
        can_subset=True,
        partitions_def=trading_day_partitions,
    )
    def checked(context: AssetExecutionContext, warehouse: Warehouse):  # noqa: ANN202
        yield from stored_check_results(context, declared, warehouse)

    warehouse = Warehouse(url=sqlite_warehouse_url)
    warehouse.replace_market_data([DAY], good_day())
    job = define_asset_job("declared", selection=AssetSelection.checks_for_assets(checked))
    result = (
        Definitions(
            assets=[checked],
            jobs=[job],
            resources={"warehouse": warehouse, "krx": KRX()},
        )
        .resolve_job_def("declared")
        .execute_in_process(
            tags={"dagster/partition": KEY}, instance=DagsterInstance.ephemeral(), raise_on_error=False
        )
    )
    assert not result.success
    assert only(result, "covered").passed
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert failure.step_key == "market_data"
    assert "Check(s) broken could not be evaluated: KeyError: 'close_price'" in (
        failure.event_specific_data.error.message
    )


# --- each historical_cases check on the bad rows it exists for -----------------------------------


@pytest.fixture(scope="module")
def good_cases(fakes, tmp_path_factory) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A real day of market_data and historical_cases, made by the job against the fakes."""
    warehouse = Warehouse(url=f"sqlite:///{tmp_path_factory.mktemp('cases')}/warehouse.sqlite")
    assert run_pipeline(fakes, warehouse).success
    upstream = {table: warehouse.read(table, [DAY]) for table in (daily_themes_table, market_analogs_table)}
    return warehouse.read_market_data([DAY]), warehouse.read_historical_cases([DAY]), upstream


def store_day(warehouse: Warehouse, good, cases: pd.DataFrame) -> None:
    market, _, upstream = good
    warehouse.replace_market_data([DAY], market)
    for table, rows in upstream.items():
        warehouse.replace_rows(table, [DAY], rows)
    warehouse.replace_historical_cases([DAY], cases)


def one_case_less(cases: pd.DataFrame) -> pd.DataFrame:
    return cases.iloc[:-1]


def unknown_ticker(cases: pd.DataFrame) -> pd.DataFrame:
    cases.at[cases.index[0], "related_tickers"] = ["999999"]
    return cases


def repeated_title(cases: pd.DataFrame) -> pd.DataFrame:
    cases.at[cases.index[1], "title"] = "  " + cases.at[cases.index[0], "title"].upper() + " "
    return cases


def empty_fields(cases: pd.DataFrame) -> pd.DataFrame:
    cases.at[cases.index[2], "summary"] = "   "
    narrative = dict(cases.at[cases.index[2], "narrative"])
    narrative["background"] = ""
    cases.at[cases.index[2], "narrative"] = narrative
    cases.at[cases.index[3], "glossary"] = []
    return cases


def wrong_sync_rate(cases: pd.DataFrame) -> pd.DataFrame:
    cases.at[cases.index[0], "sync_rate"] = int(cases.at[cases.index[0], "sync_rate"]) + 1
    return cases


def test_the_untampered_cases_pass_every_cases_check(good_cases, sqlite_warehouse_url: str) -> None:
    warehouse = Warehouse(url=sqlite_warehouse_url)
    store_day(warehouse, good_cases, good_cases[1])
    result = run_checks(warehouse, historical_cases)
    assert result.success
    assert {name: e[0].passed for name, e in evaluations(result).items()} == dict.fromkeys(CASES_CHECKS, True)


@pytest.mark.parametrize(
    ("check", "tamper", "figure", "value", "words"),
    [
        ("expected_case_count", one_case_less, "cases", 4, "4 cases stored for 5 themes in daily_themes"),
        ("related_tickers_exist", unknown_ticker, "unknown_tickers", 1, "999999"),
        ("unique_titles", repeated_title, "repeated_titles", 2, "share a title"),
        ("required_fields", empty_fields, "incomplete_cases", 2, "case #3: summary, narrative.background"),
        ("facts_match_analogs", wrong_sync_rate, "problems", 1, "case 1: sync_rate"),
    ],
)
def test_cases_check_fails_on_the_bad_rows_it_exists_for(
    good_cases, sqlite_warehouse_url: str, check: str, tamper, figure: str, value: int, words: str
) -> None:
    warehouse = Warehouse(url=sqlite_warehouse_url)
    store_day(warehouse, good_cases, tamper(good_cases[1].copy()))
    result = run_checks(warehouse, historical_cases)
    evaluation = only(result, check)
    assert not evaluation.passed and evaluation.blocking
    assert figures(evaluation)[figure] == value
    assert words in evaluation.description
    assert not result.success
