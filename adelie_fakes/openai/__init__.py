"""A fake, OpenAI-compatible HTTP server for tests, benchmarks and offline runs.

It imitates the slice of the OpenAI REST API that ``adelie_assets`` uses, closely enough that the real
``openai`` SDK talks to it unmodified (the SDK's HTTP layer cannot be mocked in-process, hence a real
socket on 127.0.0.1):

* ``POST /v1/chat/completions`` with Structured Outputs (``client.chat.completions.parse(...,
  response_format=SomeModel)``). The answer is generated from the JSON schema in the request, is
  deterministic per request body, and is *grounded*: any array-of-strings property whose name contains
  ``ticker`` is filled with the 6-digit KRX codes found in the user messages.
* The Files and Batch APIs (``files.create/retrieve/content/delete/list``,
  ``batches.create/retrieve/cancel/list``) for ``/v1/chat/completions`` batches.
* ``GET /v1/models`` (a short static list).
* Real-looking errors: 401 ``invalid_api_key``, 429 with ``retry-after-ms``, 500, 404 for unknown ids.

Faults are injected per request, from the same process (thread-safe) or over HTTP from another one::

    with FakeOpenAI() as fake:
        client = OpenAI(api_key=fake.api_key, base_url=fake.base_url)
        fake.push_faults("rate_limit", "rate_limit")  # the next two completions fail, then normal
        fake.set_fault("server_error")                # every completion fails ...
        fake.set_fault(None)                          # ... until cleared
        fake.latency = 0.5                            # seconds added to each completion
        fake.completion_count, fake.max_concurrent, fake.total_tokens, fake.requests

Fault names (see ``FAULTS``): ``rate_limit``, ``server_error``, ``bad_key``, ``hang``, ``refusal``,
``length``, ``invalid_json``, ``schema_violation``, ``hallucinated_ticker``, and for historical
cases (prompts v2 to v4, ``cases.py``) ``invented_number``, ``unknown_analog_id``, ``english_text``, and
``realistic`` (answers as a small model writes them, half of the first ones with a slip, and repair
turns followed: ``realistic.py``). Queued
faults are consumed before the sticky one. In a batch, each input line consumes one fault; HTTP-level
faults become error lines (in the batch's error file) and ``hang`` has no effect.

Standalone, for a fake shared by several processes::

    python -m adelie_fakes.openai --port 8124
    curl -X POST localhost:8124/_fake/fault -d '{"push": ["rate_limit"]}'   # or {"fault": "server_error"},
                                                                           # {"fault": null}, {"latency": 1.0}

This package imports only the standard library (never ``openai``) and has no import-time side effects.
"""

from __future__ import annotations

from adelie_fakes.openai.content import HALLUCINATED_TICKER, extract_tickers, fake_value_for_schema
from adelie_fakes.openai.state import FakeOpenAI
from adelie_fakes.openai.wire import DEFAULT_API_KEY, FAULTS, REFUSAL_TEXT, FaultName, RecordedRequest

__all__ = [
    "DEFAULT_API_KEY",
    "FAULTS",
    "HALLUCINATED_TICKER",
    "REFUSAL_TEXT",
    "FakeOpenAI",
    "FaultName",
    "RecordedRequest",
    "extract_tickers",
    "fake_value_for_schema",
]
