"""The market episode calendar: the shipped file, the errors a malformed one gets, the episode of a day,
and the check against a real warehouse as an operator sees it (docs/episodes.md)."""

from __future__ import annotations

import copy
import tomllib
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from dagster import (
    AssetCheckKey,
    AssetCheckSeverity,
    AssetSelection,
    DagsterInstance,
    Definitions,
    define_asset_job,
)

from adelie_assets.definitions import defs
from adelie_assets.defs.episodes import episode_file
from adelie_assets.defs.episodes.checks import CHECK_NAME, MARKET_EPISODES
from adelie_assets.defs.episodes.episode_file import (
    EPISODE_FILE,
    EpisodeFileError,
    episode_on,
    episodes_on,
    load_calendar,
    parse_calendar,
    shipped_calendar,
)
from adelie_assets.resources.warehouse import Warehouse, market_indices_table

CHECK_KEY = AssetCheckKey(MARKET_EPISODES, CHECK_NAME)
SHIPPED: dict[str, Any] = tomllib.loads(EPISODE_FILE.read_text(encoding="utf-8"))


def raw_with(number: int, **changes: object) -> dict[str, Any]:
    """The shipped file with fields of episode `number` (1-based) changed; None removes a field."""
    raw = copy.deepcopy(SHIPPED)
    row = raw["episode"][number - 1]
    for key, value in changes.items():
        if value is None:
            row.pop(key)
        else:
            row[key] = value
    return raw


def number_of(episode_id: str) -> int:
    return next(n for n, row in enumerate(SHIPPED["episode"], 1) if row["id"] == episode_id)


# --- the shipped file -----------------------------------------------------------------------------


def test_the_shipped_calendar_loads_with_its_version_and_every_reported_move_in_its_band() -> None:
    calendar = load_calendar()
    assert calendar.version == SHIPPED["version"] and calendar.reviewed_on == SHIPPED["reviewed_on"]
    assert 10 <= len(calendar.episodes) <= 14
    assert {e.index for e in calendar.episodes} == {"KOSPI", "KOSDAQ"}
    for episode in calendar.episodes:
        assert episode.within_band(episode.reported_move_pct), episode.id
        assert date(2000, 1, 4) <= episode.start < episode.end <= date(2025, 12, 31)
    covid = next(e for e in calendar.episodes if e.id == "covid_crash_2020")
    assert (covid.start, covid.end, covid.index) == (date(2020, 1, 22), date(2020, 3, 19), "KOSPI")
    assert round(covid.reported_move_pct, 1) == -35.7


def test_the_data_file_ships_in_the_package() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    globs = pyproject["tool"]["setuptools"]["package-data"]["adelie_assets"]
    # setuptools globs are relative to the package directory
    relative = EPISODE_FILE.relative_to(Path(episode_file.__file__).parents[2])
    assert any(relative.match(glob) for glob in globs), globs


# --- a malformed file: the error names the episode and the field ----------------------------------

MALFORMED = [
    pytest.param(
        raw_with(number_of("covid_crash_2020"), end=date(2020, 3, 21)),
        "episode 9 (covid_crash_2020), field end: 2020-03-21 is not a KRX trading day",
        id="end-on-a-saturday",
    ),
    pytest.param(
        raw_with(number_of("covid_crash_2020"), start="2020-01-22"),
        "episode 9 (covid_crash_2020), field start: '2020-01-22' is not a date (YYYY-MM-DD, unquoted)",
        id="quoted-date",
    ),
    pytest.param(
        raw_with(2, direction="sideways"),
        "episode 2 (september_11_2001), field direction: 'sideways' is not down or up",
        id="unknown-direction",
    ),
    pytest.param(
        raw_with(2, index="KOSPI200"),
        "episode 2 (september_11_2001), field index: 'KOSPI200' is not KOSPI or KOSDAQ",
        id="unknown-index",
    ),
    pytest.param(
        raw_with(2, move_max_pct=5.0),
        "episode 2 (september_11_2001), field move_max_pct: a 'down' episode's band must end below 0",
        id="band-against-direction",
    ),
    pytest.param(
        raw_with(2, reported_end_close=530.0),
        "episode 2 (september_11_2001), field reported_end_close: the reported closes 540.57 -> 530.00 "
        "are a -2.0% move, outside the band -18.0%..-9.0%",
        id="reported-move-outside-band",
    ),
    pytest.param(
        raw_with(2, end=date(2001, 9, 10)),
        "episode 2 (september_11_2001), field end: 2001-09-10 is not after start 2001-09-11",
        id="end-before-start",
    ),
    pytest.param(
        raw_with(3, id="september_11_2001"),
        "episode 3 (september_11_2001), field id: already used by episode 2",
        id="duplicate-id",
    ),
    pytest.param(
        raw_with(4, source=None), "episode 4 (bull_market_2007), field source: missing", id="missing"
    ),
    pytest.param(
        raw_with(4, nmae_ko="오타"), "episode 4 (bull_market_2007): unknown field(s) ['nmae_ko']", id="typo"
    ),
    pytest.param(
        raw_with(4, description="두 줄\n설명"),
        "episode 4 (bull_market_2007), field description: '두 줄\\n설명' is not one non-empty line of text",
        id="two-lines",
    ),
    pytest.param(
        raw_with(4, start=date(2000, 3, 9)),
        "episode 4 (bull_market_2007), field start: 2000-03-09 is before the start of episode 3",
        id="out-of-order",
    ),
    pytest.param(
        raw_with(1, start=date(1999, 12, 28)),
        "episode 1 (it_bubble_burst_2000), field start: 1999-12-28 is not on or after 2000-01-04",
        id="before-the-warehouse",
    ),
]


@pytest.mark.parametrize(("raw", "message"), MALFORMED)
def test_a_malformed_row_is_refused_naming_the_episode_and_the_field(raw: dict, message: str) -> None:
    with pytest.raises(EpisodeFileError) as raised:
        parse_calendar(raw)
    assert str(raised.value).startswith(f"episodes.toml, {message}"), str(raised.value)


def test_a_file_that_is_not_toml_is_refused_with_its_line(tmp_path: Path) -> None:
    broken = tmp_path / "episodes.toml"
    broken.write_text(EPISODE_FILE.read_text(encoding="utf-8").replace('index = "KOSDAQ"', "index = KOSDAQ"))
    with pytest.raises(EpisodeFileError, match=r"episodes.toml is not valid TOML: .*line \d+"):
        load_calendar(broken)


# --- the episode of a day, and overlaps -----------------------------------------------------------


def test_a_day_inside_an_episode_names_it_and_a_quiet_day_names_none() -> None:
    episode = episode_on(date(2020, 3, 2))
    assert episode is not None and episode.id == "covid_crash_2020"
    assert episode.facts() == {
        "episode_id": "covid_crash_2020",
        "episode_name_ko": "코로나19 폭락",
        "episode_name_en": "COVID-19 crash",
        "episode_start": "2020-01-22",
        "episode_end": "2020-03-19",
    }
    assert episode_on(date(2017, 6, 1)) is None and episodes_on(date(2017, 6, 1)) == []
    assert episode_on(date(2020, 1, 22)).id == "covid_crash_2020"  # its first day belongs to it


def test_a_shared_trough_belongs_to_the_move_that_ends_on_it() -> None:
    trough = date(2008, 10, 24)
    assert [e.id for e in episodes_on(trough)] == ["global_financial_crisis_2008", "recovery_2009"]
    assert episode_on(trough).id == "global_financial_crisis_2008"
    assert episode_on(date(2008, 10, 27)).id == "recovery_2009"
    assert episode_on(date(2021, 7, 6)).id == "covid_rally_2020"  # the peak ends the rally


def test_a_nested_episode_names_its_days_and_the_longer_one_the_rest() -> None:
    raw = copy.deepcopy(SHIPPED)
    rally = next(row for row in raw["episode"] if row["id"] == "covid_rally_2020")
    nested = {
        **rally,
        "id": "kospi_3000_2021",
        "name_ko": "코스피 3000 돌파",
        "name_en": "KOSPI breaks 3,000",
        "start": date(2020, 12, 30),
        "end": date(2021, 1, 7),
        "move_min_pct": 1.0,
        "move_max_pct": 8.0,
        "reported_start_close": 2873.47,
        "reported_end_close": 3031.68,
    }
    raw["episode"].insert(raw["episode"].index(rally) + 1, nested)
    calendar = parse_calendar(raw)
    inside = date(2021, 1, 5)
    assert [e.id for e in episodes_on(inside, calendar)] == ["covid_rally_2020", "kospi_3000_2021"]
    assert episode_on(inside, calendar).id == "kospi_3000_2021"
    assert episode_on(date(2021, 1, 8), calendar).id == "covid_rally_2020"


# --- the check against a real warehouse -----------------------------------------------------------


def index_rows(closes: dict[tuple[date, str], float]) -> pd.DataFrame:
    rows = [
        {
            "trade_date": day,
            "index_name": index,
            "open": close,
            "high": close * 1.01,
            "low": close * 0.99,
            "close": close,
            "change_pct": 0.0,
            "volume": 1_000_000,
            "trading_value": 10**12,
            "market_cap": 10**15,
        }
        for (day, index), close in closes.items()
    ]
    return pd.DataFrame(rows)


def store(warehouse: Warehouse, closes: dict[tuple[date, str], float]) -> None:
    days = sorted({day for day, _ in closes})
    warehouse.replace_rows(market_indices_table, days, index_rows(closes))


def run_check(warehouse: Warehouse):
    """The check as the UI's "Execute" runs it: a run of the check alone (public API: a job selecting it)."""
    job = define_asset_job("execute_check", selection=AssetSelection.checks(CHECK_KEY))
    result = (
        Definitions.merge(defs, Definitions(jobs=[job]))
        .resolve_job_def("execute_check")
        .execute_in_process(
            instance=DagsterInstance.ephemeral(), resources={"warehouse": warehouse}, raise_on_error=False
        )
    )
    (evaluation,) = [
        e.event_specific_data for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"
    ]
    return result, evaluation


def test_the_check_verifies_contradicts_or_reports_not_stored_per_episode(warehouse_url: str) -> None:
    warehouse = Warehouse(url=warehouse_url)
    store(
        warehouse,
        {
            # the COVID-19 crash as it happened (and the rally after it, whose end is the next start)
            (date(2020, 1, 22), "KOSPI"): 2267.25,
            (date(2020, 3, 19), "KOSPI"): 1457.64,
            # the 2022 bear market with a wrong end close (a rebased or mis-parsed value)
            (date(2021, 7, 6), "KOSPI"): 3305.21,
            (date(2022, 9, 30), "KOSPI"): 3155.49,
            # the 2008 crisis with its end day missing; the IT bubble's days stored for KOSPI only
            (date(2008, 9, 12), "KOSPI"): 1477.92,
            (date(2000, 3, 10), "KOSPI"): 857.34,
            (date(2000, 12, 26), "KOSPI"): 504.62,
        },
    )
    result, evaluation = run_check(warehouse)
    assert result.success  # a contradiction warns, it fails no run
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    assert not evaluation.blocking
    assert evaluation.description == (
        f"2 verified, 1 contradicted, 11 not stored (episodes.toml version {SHIPPED['version']}, reviewed "
        f"{SHIPPED['reviewed_on']}). Contradicted: rate_hike_bear_2022 (금리 인상기 약세장): "
        "KOSPI 3,305.21 (2021-07-06) -> 3,155.49 (2022-09-30) = -4.5%, expected down -40%..-30%. "
        "Check the stored closes of those days, then the file."
    )
    metadata = {key: value.value for key, value in evaluation.metadata.items()}
    assert metadata["covid_crash_2020"] == (
        "verified: KOSPI 2,267.25 (2020-01-22) -> 1,457.64 (2020-03-19) = -35.7%, expected down -40%..-31%"
    )
    assert metadata["global_financial_crisis_2008"] == "not stored: no KOSPI close for 2008-10-24"
    assert metadata["it_bubble_burst_2000"] == "not stored: no KOSDAQ close for 2000-03-10 and 2000-12-26"
    assert metadata["covid_rally_2020"].startswith("verified: KOSPI 1,457.64 (2020-03-19) -> 3,305.21")
    assert (metadata["verified"], metadata["contradicted"], metadata["not_stored"]) == (2, 1, 11)
    assert metadata["version"] == SHIPPED["version"]
    row = r"| covid\_crash\_2020 | 코로나19 폭락 | KOSPI | 2020\-01\-22 | 2020\-03\-19 | down \-40%\.\.\-31% "
    assert row + r"| \-35\.7% | verified |" in metadata["episodes"].splitlines()


def test_the_check_passes_when_every_stored_episode_shows_its_move(sqlite_warehouse_url: str) -> None:
    warehouse = Warehouse(url=sqlite_warehouse_url)
    calendar = shipped_calendar()
    store(
        warehouse,
        {
            **{(e.start, e.index): e.reported_start_close for e in calendar.episodes},
            **{(e.end, e.index): e.reported_end_close for e in calendar.episodes},
        },
    )
    result, evaluation = run_check(warehouse)
    assert result.success and evaluation.passed
    assert evaluation.description.startswith("14 verified, 0 contradicted, 0 not stored")


def test_an_empty_warehouse_passes_with_nothing_stored(sqlite_warehouse_url: str) -> None:
    result, evaluation = run_check(Warehouse(url=sqlite_warehouse_url))
    assert result.success and evaluation.passed
    assert evaluation.description.startswith("0 verified, 0 contradicted, 14 not stored")


def test_a_malformed_file_or_an_unreachable_warehouse_warns_and_fails_no_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_warehouse_url: str
) -> None:
    result, evaluation = run_check(Warehouse(url=f"sqlite:///{tmp_path}/missing/dir/warehouse.sqlite"))
    assert result.success and not evaluation.passed
    assert evaluation.description.startswith("The check could not be evaluated: ")

    broken = tmp_path / "episodes.toml"
    broken.write_text(
        EPISODE_FILE.read_text(encoding="utf-8").replace("end = 2020-03-19", "end = 2020-03-21")
    )
    monkeypatch.setattr(episode_file, "EPISODE_FILE", broken)
    shipped_calendar.cache_clear()
    try:
        result, evaluation = run_check(Warehouse(url=sqlite_warehouse_url))
    finally:
        shipped_calendar.cache_clear()
    assert result.success and not evaluation.passed
    assert evaluation.description == (
        "The check could not be evaluated: episodes.toml, episode 9 (covid_crash_2020), field end: "
        "2020-03-21 is not a KRX trading day."
    )


def test_a_normal_days_run_does_not_run_the_check() -> None:
    daily = defs.resolve_job_def("daily_pipeline").asset_layer.asset_graph
    assert CHECK_KEY in defs.get_repository_def().asset_graph.asset_check_keys
    assert CHECK_KEY not in daily.asset_check_keys


def test_the_docs_list_every_episode_with_its_dates_and_closes() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "episodes.md").read_text(encoding="utf-8")
    listed = {line.split(" | ")[0].strip("| "): line for line in docs.splitlines() if line.startswith("| ")}
    calendar = shipped_calendar()
    assert f"Version {calendar.version}, reviewed {calendar.reviewed_on}." in docs
    for e in calendar.episodes:
        row = listed[e.id]
        assert f"| {e.index} | {e.start} | {e.end} |" in row, e.id
        assert (
            f"{e.reported_start_close:,.2f} → {e.reported_end_close:,.2f} | {e.reported_move_pct:+.1f}% |"
            in row
        )
