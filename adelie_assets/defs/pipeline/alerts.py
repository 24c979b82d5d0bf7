"""Failed runs of this code location post a Slack-compatible message to a webhook.

ADELIE_ALERT_WEBHOOK_URL (a secret: whoever has it can post to the channel) is read from the
environment of the process that evaluates the sensor (the code server) at each evaluation, never at
load, so it is in no definition or snapshot. It never appears in logs, metadata or errors: a failed call is
logged by its kind (timeout, refused, HTTP status) only, because HTTP clients' messages embed the
URL. The call uses urllib, which logs nothing (urllib3, under `requests`, logs the path at DEBUG).
ADELIE_UI_BASE_URL (default http://127.0.0.1:3000) makes the link to the run.

No URL: the sensor does nothing and says so once per process. A dead webhook costs about
WEBHOOK_TIMEOUT_SECONDS per failed run and never fails the sensor: an alerting outage must not add
sensor errors on top of the failure it was meant to report.
"""

import json
import logging
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from dagster import (
    DagsterEvent,
    DagsterEventType,
    DagsterRun,
    DefaultSensorStatus,
    RunFailureSensorContext,
    run_failure_sensor,
)

WEBHOOK_ENV = "ADELIE_ALERT_WEBHOOK_URL"
UI_BASE_URL_ENV = "ADELIE_UI_BASE_URL"
DEFAULT_UI_BASE_URL = "http://127.0.0.1:3000"
WEBHOOK_TIMEOUT_SECONDS = 5.0
ERROR_LINES = 6
# Slack rejects a section text above 3,000 characters and a header above 150.
SECTION_LIMIT = 2_900
HEADER_LIMIT = 150

SENSOR_NAME = "alert_on_run_failure"

_missing_url_reported = threading.Event()


def ui_base_url() -> str:
    return (os.environ.get(UI_BASE_URL_ENV) or DEFAULT_UI_BASE_URL).strip().rstrip("/")


def run_url(run_id: str) -> str:
    return f"{ui_base_url()}/runs/{run_id}"


def partition_of(run: DagsterRun) -> str:
    tags = run.tags
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start and end:
        return start if start == end else f"{start}..{end}"
    return "none"


def _escape(text: str) -> str:
    # Slack mrkdwn: &, < and > are control characters; ``` would end the code block early.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("```", "'''")


def _first_lines(text: str, count: int = ERROR_LINES) -> str:
    lines = [line.rstrip() for line in text.strip().splitlines() if line.strip()]
    shown = lines[:count]
    return "\n".join(shown) + ("\n…" if len(lines) > count else "")


def _readable(message: str) -> str:
    # "adelie_assets.resources.krx.KrxLoginError: KRX answered..." -> "KrxLoginError: KRX answered..."
    head, sep, rest = message.partition(": ")
    return f"{head.rsplit('.', 1)[-1]}{sep}{rest}" if sep and " " not in head else message


def _step_error(event: DagsterEvent) -> str:
    """What went wrong in the step, in the user's words: a Failure's text, else the raised error."""
    data = event.step_failure_data
    if data.user_failure_data and data.user_failure_data.description:
        return data.user_failure_data.description
    error = data.error
    # Dagster wraps the user's exception ("Error occurred while executing op ...") as the cause.
    while (
        error is not None
        and error.cause is not None
        and error.cls_name == "DagsterExecutionStepExecutionError"
    ):
        error = error.cause
    return _readable(error.message) if error is not None else (event.message or "no error message")


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


def build_payload(
    run: DagsterRun,
    failure_event: DagsterEvent,
    step_failures: Sequence[DagsterEvent],
    failed_checks: Sequence[str] = (),
) -> dict[str, Any]:
    link = run_url(run.run_id)
    partition = partition_of(run)
    steps = sorted({e.step_key for e in step_failures if e.step_key})
    steps_text = ", ".join(steps) if steps else "none (the run failed outside its steps)"
    if step_failures:
        errors = [f"{e.step_key}: {_first_lines(_step_error(e))}" for e in step_failures]
    else:
        errors = [_first_lines(failure_event.message or "The run failed.")]
    error_text = _escape("\n".join(errors))[:SECTION_LIMIT]
    text = (
        f"Dagster run failed: {run.job_name}, partition {partition}, failed step(s): {steps_text}. "
        f"{errors[0].strip().splitlines()[0]} Run: {link}"
    )
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": f"Run failed: {run.job_name} {partition}"[:HEADER_LIMIT]},
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Job*\n{_escape(run.job_name)}"},
                {"type": "mrkdwn", "text": f"*Partition*\n{_escape(partition)}"},
                {"type": "mrkdwn", "text": f"*Failed step(s)*\n{_escape(steps_text)}"},
                {"type": "mrkdwn", "text": f"*Run*\n<{link}|{run.run_id[:8]}>"},
            ],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": f"```{error_text}```"}},
    ]
    if failed_checks:
        checks_text = _escape("\n".join(f"• {line}" for line in failed_checks))[:SECTION_LIMIT]
        blocks.append(
            {"type": "section", "text": {"type": "mrkdwn", "text": f"*Failed checks*\n{checks_text}"}}
        )
    blocks.append(
        {
            "type": "actions",
            "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Open run"}, "url": link}],
        }
    )
    return {"text": text, "blocks": blocks}


def post_alert(url: str, payload: dict[str, Any], log: logging.Logger, timeout: float | None = None) -> bool:
    """POST the payload; True when the webhook took it. Logs why not, without the URL; never raises."""
    if urlsplit(url).scheme not in ("http", "https"):
        log.warning(f"{WEBHOOK_ENV} is not an http(s) URL: the alert was not sent.")
        return False
    timeout = WEBHOOK_TIMEOUT_SECONDS if timeout is None else timeout
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
        return True
    except urllib.error.HTTPError as exc:
        reason = f"the webhook answered HTTP {exc.code}"
    except (TimeoutError, urllib.error.URLError) as exc:
        timed_out = isinstance(exc, TimeoutError) or isinstance(getattr(exc, "reason", None), TimeoutError)
        reason = (
            f"the webhook did not answer within {timeout:g} s"
            if timed_out
            else "could not connect to the webhook (refused, reset or DNS failure)"
        )
    except Exception as exc:  # an alert must never break the sensor
        reason = f"{type(exc).__name__} while calling the webhook"
    log.warning(f"Failure alert not delivered: {reason}. Check {WEBHOOK_ENV} and the webhook service.")
    return False


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
    try:
        payload = build_payload(
            context.dagster_run,
            context.failure_event,
            context.get_step_failure_events(),
            failed_check_descriptions(context),
        )
    except Exception as exc:  # a malformed event still deserves a minimal alert
        context.log.warning(f"Could not describe run {context.dagster_run.run_id} ({type(exc).__name__}).")
        payload = build_payload(context.dagster_run, context.failure_event, [])
    if post_alert(url, payload, context.log):
        context.log.info(f"Failure alert sent for run {context.dagster_run.run_id}.")
