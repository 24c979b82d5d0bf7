"""Slack-compatible webhook messages for failed runs: the payload and the POST.

The POST uses urllib, which logs nothing (urllib3, under `requests`, logs the path at DEBUG), and
a failed call is reported by its kind only: HTTP clients' messages embed the URL, a secret.
"""

import json
import logging
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

from dagster import DagsterEvent, DagsterRun

ERROR_LINES = 6
# Slack rejects a section text above 3,000 characters and a header above 150.
SECTION_LIMIT = 2_900
HEADER_LIMIT = 150


def partition_of(run: DagsterRun) -> str:
    tags = run.tags
    if "dagster/partition" in tags:
        return tags["dagster/partition"]
    start = tags.get("dagster/asset_partition_range_start")
    end = tags.get("dagster/asset_partition_range_end")
    if start and end:
        return start if start == end else f"{start}..{end}"
    return "none"


def escape(text: str) -> str:
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


def build_payload(
    run: DagsterRun,
    failure_event: DagsterEvent,
    step_failures: Sequence[DagsterEvent],
    failed_checks: Sequence[str] = (),
    *,
    link: str,
) -> dict[str, Any]:
    partition = partition_of(run)
    steps = sorted({e.step_key for e in step_failures if e.step_key})
    steps_text = ", ".join(steps) if steps else "none (the run failed outside its steps)"
    if step_failures:
        errors = [f"{e.step_key}: {_first_lines(_step_error(e))}" for e in step_failures]
    else:
        errors = [_first_lines(failure_event.message or "The run failed.")]
    error_text = escape("\n".join(errors))[:SECTION_LIMIT]
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
                {"type": "mrkdwn", "text": f"*Job*\n{escape(run.job_name)}"},
                {"type": "mrkdwn", "text": f"*Partition*\n{escape(partition)}"},
                {"type": "mrkdwn", "text": f"*Failed step(s)*\n{escape(steps_text)}"},
                {"type": "mrkdwn", "text": f"*Run*\n<{link}|{run.run_id[:8]}>"},
            ],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": f"```{error_text}```"}},
    ]
    if failed_checks:
        checks_text = escape("\n".join(f"• {line}" for line in failed_checks))[:SECTION_LIMIT]
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


def post_alert(
    url: str, payload: dict[str, Any], log: logging.Logger, *, timeout: float, url_env: str
) -> bool:
    """POST the payload; True when the webhook took it. Logs why not, naming `url_env`, never the URL."""
    if urlsplit(url).scheme not in ("http", "https"):
        log.warning(f"{url_env} is not an http(s) URL: the alert was not sent.")
        return False
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
    log.warning(f"Failure alert not delivered: {reason}. Check {url_env} and the webhook service.")
    return False
