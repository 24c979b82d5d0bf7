"""When each asset is expected to be fresh, as Dagster freshness policies (evaluated by the daemon).

KRX data of day D is final at D 18:00 KST; the 08:00 KST run must have landed by the deadline.
Why cron policies and their limits: docs/dagster-notes.md, "Freshness policies".
"""

from datetime import timedelta

from dagster import FreshnessPolicy

MARKET_DATA_FRESHNESS = FreshnessPolicy.cron(
    deadline_cron="30 8 * * 1-5",
    lower_bound_delta=timedelta(hours=14, minutes=30),
    timezone="Asia/Seoul",
)

# The LLM step follows market_data in the same run; 30 minutes more covers retries and the queue.
HISTORICAL_CASES_FRESHNESS = FreshnessPolicy.cron(
    deadline_cron="0 9 * * 1-5",
    lower_bound_delta=timedelta(hours=15),
    timezone="Asia/Seoul",
)
