"""A day whose model answers and ticker names are hostile is published with no markup but the glossary
marks placed by code: checked on every text the five tables hold, in the app's PostgreSQL."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from adelie_assets.defs.app.feed import publish_trading_day
from adelie_assets.resources.app_database import AppDatabase
from tests.app import app_reads
from tests.app.test_markup import HOSTILE, tags_of
from tests.app.upstream import upstream_day, write_upstream

pytestmark = pytest.mark.postgres
DAY = date(2026, 11, 26)


def _strings(value: Any, path: str = "") -> list[tuple[str, str]]:
    if isinstance(value, str):
        return [(path, value)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _strings(v, f"{path}.{k}")]
    if isinstance(value, list):
        return [s for i, v in enumerate(value) for s in _strings(v, f"{path}[{i}]")]
    return []


def test_hostile_answers_reach_the_app_as_text(pg_warehouse_url: str, app_db_url_unique: str) -> None:
    upstream = upstream_day(DAY)
    attack = " ".join(HOSTILE)
    for rank in range(1, 6):
        case = upstream.case(rank)
        case["title"] = f"{HOSTILE[rank]} 제목 {rank}"
        case["summary"] = attack
        case["key_insight"] = attack
        case["comparison"]["past_label"] = HOSTILE[7]
        case["comparison"]["past_metric"]["company"] = HOSTILE[3]
        case["glossary"] = [{"term": "공매도", "definition": attack}, {"term": HOSTILE[0], "definition": "x"}]
        for section in case["narrative"].values():
            section["content"] = attack
            section["bullets"] = [f"{h} 요점" for h in HOSTILE[rank : rank + 3]]
    upstream.market.loc[0, "name"] = "<img src=x onerror=alert(1)>주식"
    warehouse = write_upstream(pg_warehouse_url, upstream)
    publish_trading_day(warehouse, AppDatabase(url=app_db_url_unique), DAY)

    engine = sa.create_engine(app_db_url_unique.replace("postgresql://", "postgresql+psycopg2://"))
    with engine.connect() as conn:
        state = app_reads.state(conn)
    engine.dispose()
    texts = [s for table, rows in state.items() for s in _strings(rows, table)]
    assert len(texts) > 500
    marks = 0
    for path, text in texts:
        lowered = text.lower()
        assert "javascript" not in lowered and "onerror" not in lowered and "evil.invalid" not in lowered, (
            path
        )
        is_html = ".narrative." in path and (".content" in path or ".bullets[" in path)
        if is_html:
            assert all(tag == ("mark", [("class", "term")]) for tag in tags_of(text)), (path, text)
            marks += text.count("<mark class='term'>")
        else:
            assert "<" not in text and ">" not in text, (path, text)
    assert marks >= 5 * 7  # the glossary term is still marked in every section of every case
