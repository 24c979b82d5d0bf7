"""The Plotly figures of a case's narrative sections, built from market_analogs and market_data rows:
the numbers are the warehouse's, never the model's."""

from __future__ import annotations

from typing import Any

from adelie_assets.defs.app.markup import plain_text

_HORIZONS = (5, 20, 60)
_TODAY_COLOR = "#e4572e"
_PAST_COLOR = "#4c6ef5"
_INDEX_COLOR = "#adb5bd"


def _line(name: str, x: list[Any], y: list[Any], color: str, dash: str | None = None) -> dict[str, Any]:
    trace: dict[str, Any] = {"type": "scatter", "mode": "lines", "name": name, "x": x, "y": y}
    trace["line"] = {"color": color, **({"dash": dash} if dash else {})}
    return trace


def _layout(title: str, x_title: str, y_title: str) -> dict[str, Any]:
    return {
        "title": {"text": title},
        "xaxis": {"title": {"text": x_title}},
        "yaxis": {"title": {"text": y_title}},
        "showlegend": True,
    }


def _points(path: list[dict[str, Any]] | None, low: int, high: int) -> list[dict[str, Any]]:
    return sorted(
        (p for p in path or [] if low <= int(p["offset"]) <= high and p.get("close") is not None),
        key=lambda p: int(p["offset"]),
    )


def _round(value: Any, digits: int = 2) -> float | None:
    return None if value is None else round(float(value), digits)


# The analog search's features (defs/analogs/features.py), as the app's readers know them.
FEATURE_LABELS = {
    "change_1d_pct": "당일 등락률(%)",
    "change_5d_pct": "5일 등락률(%)",
    "change_20d_pct": "20일 등락률(%)",
    "log_volume_ratio": "거래량 배율(로그)",
    "index_change_pct": "지수 등락률(%)",
}


def _feature_label(key: str) -> str:
    return FEATURE_LABELS.get(key) or plain_text(key.replace("_", " "), 40)


def build_charts(analog: dict[str, Any], subject_close: float | None) -> dict[str, dict[str, Any]]:
    """One chart per narrative section except `action`."""
    today_name = plain_text(analog.get("subject_name") or analog["subject"], 100)
    past_name = plain_text(analog.get("analog_name") or analog.get("analog_ticker") or "", 100)
    past_day = str(analog["analog_date"])
    past_label = f"{past_name} ({past_day})"
    before = _points(analog.get("path_analog"), -60, 0)
    after = _points(analog.get("path_analog"), 0, 60)
    today = _points(analog.get("path_today"), -60, 0)

    background = {
        "data": [_line(past_label, [p["date"] for p in before], [p["close"] for p in before], _PAST_COLOR)],
        "layout": _layout(f"{past_name}: {past_day}까지의 주가", "날짜", "종가"),
    }
    mirroring = {
        "data": [
            _line(
                f"{today_name} (오늘까지)",
                [p["offset"] for p in today],
                [_round(p["pct"]) for p in today],
                _TODAY_COLOR,
            ),
            _line(past_label, [p["offset"] for p in before], [_round(p["pct"]) for p in before], _PAST_COLOR),
        ],
        "layout": _layout("오늘과 과거 사례의 주가 흐름 (기준일 대비 %)", "기준일로부터 거래일", "%"),
    }
    features = analog.get("features") or {}
    today_features = features.get("today") or {}
    past_features = features.get("analog") or {}
    keys = [k for k in today_features if k in past_features]
    difference = {
        "data": [
            {
                "type": "bar",
                "name": "오늘",
                "x": [_feature_label(k) for k in keys],
                "y": [_round(today_features[k], 4) for k in keys],
                "marker": {"color": _TODAY_COLOR},
            },
            {
                "type": "bar",
                "name": past_label,
                "x": [_feature_label(k) for k in keys],
                "y": [_round(past_features[k], 4) for k in keys],
                "marker": {"color": _PAST_COLOR},
            },
        ],
        "layout": {**_layout("오늘과 과거 사례의 지표 비교", "지표", "값"), "barmode": "group"},
    }
    worst = min(after, key=lambda p: float(p["pct"]), default=None)
    devils_advocate = {
        "data": [
            _line(
                f"{past_name} 이후 흐름",
                [p["offset"] for p in after],
                [_round(p["pct"]) for p in after],
                _PAST_COLOR,
            ),
            *(
                [
                    {
                        "type": "scatter",
                        "mode": "markers",
                        "name": "최대 하락 지점",
                        "x": [worst["offset"]],
                        "y": [_round(worst["pct"])],
                        "marker": {"color": _TODAY_COLOR, "size": 10},
                    }
                ]
                if worst is not None
                else []
            ),
        ],
        "layout": _layout("같은 패턴에서도 이렇게 흔들렸습니다 (기준일 대비 %)", "기준일 이후 거래일", "%"),
    }
    simulated = (
        [round(float(subject_close) * (1 + float(p["pct"]) / 100), 2) for p in after]
        if subject_close is not None
        else []
    )
    simulation = {
        "data": [
            _line(
                f"{today_name} 실제", [p["offset"] for p in today], [p["close"] for p in today], _TODAY_COLOR
            ),
            _line(
                "과거 흐름을 그대로 따른다면",
                [p["offset"] for p in after] if simulated else [],
                simulated,
                _TODAY_COLOR,
                dash="dot",
            ),
        ],
        "layout": _layout(
            f"{today_name}: 과거 사례의 흐름을 오늘 종가에 적용하면", "오늘로부터 거래일", "가격"
        ),
    }
    horizons = [f"{h}거래일 후" for h in _HORIZONS]
    result = {
        "data": [
            {
                "type": "bar",
                "name": past_name,
                "x": horizons,
                "y": [_round(analog.get(f"after_{h}_pct")) for h in _HORIZONS],
                "marker": {"color": _PAST_COLOR},
            },
            {
                "type": "bar",
                "name": "같은 기간 지수",
                "x": horizons,
                "y": [_round(analog.get(f"index_after_{h}_pct")) for h in _HORIZONS],
                "marker": {"color": _INDEX_COLOR},
            },
        ],
        "layout": {**_layout(f"{past_day} 이후 {past_name}의 수익률", "기간", "%"), "barmode": "group"},
    }
    return {
        "background": background,
        "mirroring": mirroring,
        "difference": difference,
        "devils_advocate": devils_advocate,
        "simulation": simulation,
        "result": result,
    }
