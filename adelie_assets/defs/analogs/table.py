"""Column schemas of `analog_features` and `market_analogs`, as the UI shows them."""

from dagster import TableColumn, TableSchema

ANALOG_FEATURES_SCHEMA = TableSchema(
    columns=[
        TableColumn("trade_date", "date", description="KRX trading day (partition key)."),
        TableColumn("kind", "string", description="'stock' (every ticker) or 'index' (KOSPI, KOSDAQ)."),
        TableColumn("row_count", "int", description="Tickers in the block."),
        TableColumn("codes", "binary", description="Tickers, 8-byte ASCII each (uint64 LE), sorted."),
        TableColumn(
            "vectors",
            "binary",
            description="float32 LE, feature-major: 5 features, close, market, adjustment, size tier.",
        ),
    ]
)

MARKET_ANALOGS_SCHEMA = TableSchema(
    columns=[
        TableColumn("trade_date", "date", description="KRX trading day (partition key)."),
        TableColumn("subject", "string", description="A theme stock's ticker, or 'KOSPI' / 'KOSDAQ'."),
        TableColumn("analog_rank", "int", description="1 = the nearest."),
        TableColumn("analog_id", "string", description="'<subject>-<rank>': the id offered to the LLM."),
        TableColumn("subject_kind", "string", description="'stock' | 'index'."),
        TableColumn("subject_name", "string"),
        TableColumn("theme_rank", "int", description="The first theme the stock is in; NULL for indices."),
        TableColumn("analog_ticker", "string"),
        TableColumn("analog_name", "string", description="KRX name on the analog day."),
        TableColumn("analog_date", "date", description="The past day (>= 60 trading days before)."),
        TableColumn("similarity", "float", description="100 * exp(-distance / sqrt(features))."),
        TableColumn("distance", "float", description="Euclidean, standardised features."),
        TableColumn("features", "json", description='{"today": {...}, "analog": {...}}'),
        TableColumn("after_5_pct", "float", description="Analog's close change after +5 trading days."),
        TableColumn("after_20_pct", "float"),
        TableColumn("after_60_pct", "float"),
        TableColumn("index_after_5_pct", "float", description="Its market index over the same span."),
        TableColumn("index_after_20_pct", "float"),
        TableColumn("index_after_60_pct", "float"),
        TableColumn("path_analog", "json", description="[{offset -20..60, date, close, pct}]"),
        TableColumn("path_today", "json", description="[{offset -20..0, date, close, pct}]"),
        TableColumn("history_start", "date", description="First day of the history searched."),
        TableColumn("history_years", "float", description="Years of history searched."),
        TableColumn(
            "regime",
            "json",
            description='{"today"|"analog": {index, from_250d_high_pct, change_1y_pct}, "after_60": '
            '{"analog"|"index": {lowest_pct, lowest_day, highest_pct, highest_day}}, "size_tier": '
            '{"today"|"analog": mega|large|mid|small}, "episode": {episode_id, episode_name_ko, '
            "episode_name_en, episode_start, episode_end} | null} (docs/analogs.md, docs/episodes.md).",
        ),
        TableColumn("analog_market_cap", "bigint", description="KRW, the analog stock's on its day."),
    ]
)
