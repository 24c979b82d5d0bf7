"""Hostile text from outside: KRX ticker names and LLM output full of quotes, SQL, markdown, HTML,
newlines, COPY's end-of-data marker and format placeholders. It must be stored byte-for-byte
(bound parameters on SQLite and Postgres; COPY for market_data on Postgres), rendered escaped in the
metadata previews (adelie_assets/markdown.py), and never executed.

The fake KRX serves the names (its answer for the day is wrapped); the fake OpenAI answers with the
hostile strings (its completion generator is wrapped). Both still go over real HTTP through pykrx and
the openai SDK.
"""

from __future__ import annotations

import html
import json
import re
from datetime import date

import pytest
import sqlalchemy as sa
from dagster import DagsterInstance, materialize

from adelie_assets.defs.analogs.assets import analog_features, market_analogs
from adelie_assets.defs.cases.assets import historical_cases
from adelie_assets.defs.cases.daily_themes import daily_themes
from adelie_assets.defs.market.assets import market_data
from adelie_assets.resources.llm import LLM
from adelie_assets.resources.warehouse import Warehouse, llm_cache_table
from adelie_fakes import FakeKrx, FakeOpenAI
from adelie_fakes.krx import answers as krx_answers
from adelie_fakes.openai import wire as openai_wire
from tests.builders import krx_for, step_failures
from tests.history import seed_history_before
from tests.reliability.frames import big_frame

DAY = date(2026, 11, 27)
TRD_DD = DAY.strftime("%Y%m%d")

HOSTILE_NAMES = [
    "Robert'); DROP TABLE market_data;--",
    "\"Quoted\" 'single' `back` ,comma;semi",
    "<script>alert('x')</script>",
    "[click](javascript:alert(1)) **bold** _it_ # h1 > quote",
    "| pipe | in | a name |",
    "line1\nline2\r\nline3\ttab",
    "end\n\\.\nof COPY \\N NULL %s %(x)s {0} {stocks_json} $1 ?",
    "한글 이름 😀 ünïcödé <b>&amp;</b>",
]

HOSTILE_LLM = {
    "title": "'); DROP TABLE historical_cases;-- <script>x</script> | **t**",
    "summary": "Summary {trade_date} %s %(x)s \\. \\N\nnew line | pipe [link](http://evil.invalid) "
    "<img src=x onerror=alert(1)> 한글",
    "key_insight": "`rm -rf /` $(reboot) && __import__('os').system('id') {{ 7*7 }} ${7*7}",
    "background": "\"; DELETE FROM llm_cache; -- and a quote ' and a backslash \\ and NUL-free text",
}


@pytest.fixture(scope="module")
def hostile_fakes():
    """Both fakes, answering with the hostile strings above."""
    original_quotes = krx_answers._cached_quotes
    original_complete = openai_wire._complete

    def quotes(mkt_id: str, trd_dd: str) -> tuple[dict, bytes]:
        body, raw = original_quotes(mkt_id, trd_dd)
        if (mkt_id, trd_dd) != ("STK", TRD_DD):
            return body, raw
        body = krx_answers._copy_body(body)
        traded = [row for row in body["OutBlock_1"] if row["ACC_TRDVOL"] != "0"]
        for n, (row, name) in enumerate(zip(traded, HOSTILE_NAMES, strict=False)):
            # The day's biggest movers, and liquid: they are in the preview and in the LLM's themes.
            row["ISU_ABBRV"] = name
            row["FLUC_RT"] = f"{'' if n % 2 == 0 else '-'}29.{90 - n}"
            row["ACC_TRDVAL"] = "900,000,000,000"
        return body, krx_answers._serialise(body)

    def complete(body, fault, *, presented_key):  # noqa: ANN001, ANN202 - the fake's own signature
        reply = original_complete(body, fault, presented_key=presented_key)
        message = reply.body.get("choices", [{}])[0].get("message", {}) if reply.status == 200 else {}
        if message.get("content"):
            case = json.loads(message["content"])
            case.update({k: v for k, v in HOSTILE_LLM.items() if k not in ("background", "title")})
            case["title"] = f"{HOSTILE_LLM['title']} {case['title']}"  # a day's titles stay distinct
            case["narrative"]["background"]["content"] = HOSTILE_LLM["background"]
            message["content"] = json.dumps(case, ensure_ascii=False)
        return reply

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(krx_answers, "_cached_quotes", quotes)
        mp.setattr(openai_wire, "_complete", complete)
        with FakeKrx() as krx, FakeOpenAI() as llm:
            yield krx, llm


def unescape_markdown(text: str) -> str:
    return html.unescape(re.sub(r"\\(.)", r"\1", text))


def table_rows(preview: str) -> list[list[str]]:
    """The cells of every markdown table row, split on the pipes that are NOT escaped."""
    rows = []
    for line in preview.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            rows.append([cell.strip() for cell in cells])
    return rows


def _materialize(resources: dict):
    return materialize(
        [market_data, daily_themes, analog_features, market_analogs, historical_cases],
        partition_key=DAY.isoformat(),
        resources=resources,
        instance=DagsterInstance.ephemeral(),
        raise_on_error=False,
    )


def test_hostile_names_and_llm_output_are_stored_exactly_and_previewed_escaped(
    hostile_fakes, warehouse_url: str, monkeypatch: pytest.MonkeyPatch
):
    krx, llm = hostile_fakes
    monkeypatch.setenv("ADELIE_CASE_LANGUAGE", "en")  # the hostile text is not Korean
    warehouse = Warehouse(url=warehouse_url)
    seed_history_before(warehouse, DAY)
    result = _materialize(
        {"krx": krx_for(krx), "llm": LLM(api_key=llm.api_key, base_url=llm.base_url), "warehouse": warehouse}
    )
    assert result.success, step_failures(result)

    # Stored byte-for-byte (the Postgres path loads market_data with COPY).
    market = warehouse.read_market_data([DAY])
    assert len(market) == 2388
    assert sorted(set(HOSTILE_NAMES) & set(market["name"])) == sorted(HOSTILE_NAMES)
    cases = warehouse.read_historical_cases([DAY])
    assert len(cases) == 5
    for case in cases.itertuples():
        assert case.title.startswith(HOSTILE_LLM["title"] + " ")
        assert case.summary == HOSTILE_LLM["summary"]
        assert case.key_insight == HOSTILE_LLM["key_insight"]
        assert case.narrative["background"]["content"] == HOSTILE_LLM["background"]
    with warehouse.engine().connect() as conn:
        cached = [row.response for row in conn.execute(sa.select(llm_cache_table))]
    assert len(cached) == 5 and all(r["title"].startswith(HOSTILE_LLM["title"]) for r in cached)
    # The names reached the model only as cells of the prompt's stock table: a pipe or a line break
    # in a name cannot end its cell or row.
    prompts = [r.body["messages"][1]["content"] for r in llm.completion_requests]
    kospi_gainers = next(p for p in prompts if "Top gainers on KOSPI" in p)
    assert f"{HOSTILE_NAMES[0]}(" in kospi_gainers
    section = "stock(code)|" + kospi_gainers.split("stock(code)|")[1].split("Indices:")[0]
    header, *table = section.strip().splitlines()
    assert len(table) == 3 and all(line.count("|") == header.count("|") for line in table)

    # Previewed escaped: no raw HTML, every row keeps its columns, and the text reads back intact.
    md = result.asset_materializations_for_node("market_data")[0].metadata["preview"].value
    assert "<script>" not in md and "<b>" not in md and "&lt;script&gt;" in md
    rows = table_rows(md)
    assert len(rows) == 2 + 10  # two header rows and 5 gainers + 5 losers, none split by a newline
    assert all(len(row) == 6 for row in rows)
    shown = {unescape_markdown(row[1]) for row in rows}
    expected = {name.replace("\r", " ").replace("\n", " ") for name in HOSTILE_NAMES}
    assert expected <= shown
    md = result.asset_materializations_for_node("historical_cases")[0].metadata["preview"].value
    assert "<script>" not in md
    rows = table_rows(md)
    assert len(rows) == 1 + 5 and all(len(row) == 6 for row in rows)
    assert all(unescape_markdown(row[3]).startswith(HOSTILE_LLM["title"]) for row in rows[1:])

    # Nothing was executed: every table is still there with its rows.
    with warehouse.engine().connect() as conn:
        inspector = sa.inspect(conn)
        assert {"market_data", "historical_cases", "llm_cache"} <= set(inspector.get_table_names())


def test_a_cache_hit_returns_the_hostile_answer_unchanged(
    hostile_fakes, sqlite_warehouse_url: str, monkeypatch: pytest.MonkeyPatch
):
    krx, llm = hostile_fakes
    monkeypatch.setenv("ADELIE_CASE_LANGUAGE", "en")
    warehouse = Warehouse(url=sqlite_warehouse_url)
    seed_history_before(warehouse, DAY)
    resources = {
        "krx": krx_for(krx),
        "llm": LLM(api_key=llm.api_key, base_url=llm.base_url),
        "warehouse": warehouse,
    }
    for _ in range(2):
        result = _materialize(resources)
        assert result.success, step_failures(result)
    assert result.asset_materializations_for_node("historical_cases")[0].metadata["cache_hits"].value == 5
    cases = warehouse.read_historical_cases([DAY])
    assert all(title.startswith(HOSTILE_LLM["title"]) for title in cases["title"])
    assert set(cases["summary"]) == {HOSTILE_LLM["summary"]}


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
    ],
)
def test_an_empty_text_value_is_stored_as_empty_text_on_both_backends(backend: str, request):
    url = request.getfixturevalue("sqlite_warehouse_url" if backend == "sqlite" else "pg_warehouse_url")
    warehouse = Warehouse(url=url)
    frame = big_frame(3)
    frame.loc[1, "name"] = ""
    warehouse.replace_market_data([DAY], frame)
    assert list(warehouse.read_market_data([DAY])["name"]) == ["Big 0", "", "Big 2"]
