"""Failed runs of this code location post a Slack-compatible message to a webhook.

ADELIE_ALERT_WEBHOOK_URL (a secret) is read at each evaluation, never at load, so it is in no
definition or snapshot, and never logged. No URL: the sensor does nothing and says so once per
process. A dead webhook never fails the sensor: an alerting outage must not add sensor errors.
"""

import os
import threading

from dagster import (
    DagsterEventType,
    DefaultSensorStatus,
    RunFailureSensorContext,
    run_failure_sensor,
)

from adelie_assets.lib.slack_webhook import build_payload, post_alert

WEBHOOK_ENV = "ADELIE_ALERT_WEBHOOK_URL"
UI_BASE_URL_ENV = "ADELIE_UI_BASE_URL"
DEFAULT_UI_BASE_URL = "http://127.0.0.1:3000"
WEBHOOK_TIMEOUT_SECONDS = 5.0

SENSOR_NAME = "alert_on_run_failure"

_missing_url_reported = threading.Event()


def ui_base_url() -> str:
    return (os.environ.get(UI_BASE_URL_ENV) or DEFAULT_UI_BASE_URL).strip().rstrip("/")


def run_url(run_id: str) -> str:
    return f"{ui_base_url()}/runs/{run_id}"


def failed_check_descriptions(context: RunFailureSensorContext) -> list[str]:
    """Why the blocking checks of the run failed: the step error names the check, not the figures."""
    records = context.instance.all_logs(
        context.dagster_run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION
    )
    lines = []
    for record in records:
        evaluation = record.dagster_event.event_specific_data if record.dagster_event else None
        if evaluation is None or evaluation.passed:
            continue
        where = f" ({evaluation.partition})" if evaluation.partition else ""
        lines.append(
            f"{evaluation.asset_key.to_user_string()}.{evaluation.check_name}{where} "
            f"[{evaluation.severity.value}]: {evaluation.description or 'failed'}"
        )
    return lines


@run_failure_sensor(
    name=SENSOR_NAME,
    default_status=DefaultSensorStatus.RUNNING,
    description=(
        f"Posts every failed run of this code location to the Slack-compatible webhook in {WEBHOOK_ENV} "
        "(job, partition, failed steps, error, link). Does nothing when the variable is not set."
    ),
)
def alert_on_run_failure(context: RunFailureSensorContext) -> None:
    url = os.environ.get(WEBHOOK_ENV, "").strip()
    if not url:
        if not _missing_url_reported.is_set():
            _missing_url_reported.set()
            context.log.info(f"{WEBHOOK_ENV} is not set: failed runs are not alerted.")
        return
    link = run_url(context.dagster_run.run_id)
    try:
        payload = build_payload(
            context.dagster_run,
            context.failure_event,
            context.get_step_failure_events(),
            failed_check_descriptions(context),
            link=link,
        )
    except Exception as exc:  # a malformed event still deserves a minimal alert
        context.log.warning(f"Could not describe run {context.dagster_run.run_id} ({type(exc).__name__}).")
        payload = build_payload(context.dagster_run, context.failure_event, [], link=link)
    if post_alert(url, payload, context.log, timeout=WEBHOOK_TIMEOUT_SECONDS, url_env=WEBHOOK_ENV):
        context.log.info(f"Failure alert sent for run {context.dagster_run.run_id}.")
