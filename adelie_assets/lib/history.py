"""Which assets hold the history that later days search (the analogs look back over them)."""

HISTORY_TAG = "adelie/history"
# On market_data, market_indices and analog_features: a backfill of a day that has analogs needs these
# assets materialized for the ~100 trading days before it (docs/analogs.md); the demo fills them.
HISTORY_TAGS = {HISTORY_TAG: "searched"}
