"""The LLM resource: OpenAI or any OpenAI-compatible server (Ollama, vLLM) through the openai SDK.

The SDK is imported lazily so that loading the code location never needs it, and a missing key
fails only the step that calls the model, with a message naming OPENAI_API_KEY. The key is never
put in a message: OpenAI's own 401 text echoes part of it, so that text is not passed on.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from dagster import ConfigurableResource
from pydantic import BaseModel, Field, PrivateAttr

DEFAULT_MODEL = "gpt-4o-mini"

ModelT = TypeVar("ModelT", bound=BaseModel)


class LlmError(Exception):
    """The LLM call failed in a way the message explains."""


class LlmConfigError(LlmError):
    """Missing or rejected credentials / configuration: retrying cannot help."""


@dataclass(frozen=True)
class LlmAnswer:
    """One chat completion: the parsed object, or the refusal, plus what it cost."""

    parsed: Any
    refusal: str | None
    request_id: str | None
    model: str
    input_tokens: int
    output_tokens: int
    content: str | None = None  # the answer as sent, for a repair turn that quotes it back


class LLM(ConfigurableResource):
    """Chat completions with structured outputs; the SDK retries 408/409/429/5xx and timeouts."""

    api_key: str | None = Field(default=None, description="API key (env OPENAI_API_KEY).")
    base_url: str | None = Field(
        default=None,
        description="OpenAI-compatible endpoint, e.g. http://localhost:11434/v1 (env OPENAI_BASE_URL).",
    )
    model: str = Field(default=DEFAULT_MODEL, description="Model name (env ADELIE_LLM_MODEL).")
    timeout_seconds: float = Field(
        default=60.0,
        gt=0,
        le=3600,
        allow_inf_nan=False,
        description="Wall-clock deadline of one HTTP request, body included (the SDK's own timeout is "
        "per socket read).",
    )
    max_retries: int = Field(default=3, ge=0, le=10, description="SDK retries of 429/5xx/timeouts.")
    input_usd_per_million_tokens: float = Field(default=0.15, ge=0, description="For the cost estimate.")
    output_usd_per_million_tokens: float = Field(default=0.60, ge=0, description="For the cost estimate.")

    _client: Any = PrivateAttr(default=None)

    def estimated_cost_usd(self, input_tokens: int, output_tokens: int) -> float:
        return (
            input_tokens * self.input_usd_per_million_tokens
            + output_tokens * self.output_usd_per_million_tokens
        ) / 1_000_000

    def client(self) -> Any:
        if not self.api_key:
            raise LlmConfigError(
                "OPENAI_API_KEY is not set: set it to your OpenAI API key (for an OpenAI-compatible server "
                "such as Ollama, set OPENAI_BASE_URL and any non-empty OPENAI_API_KEY)."
            )
        if self._client is None:
            import httpx2
            from openai import DefaultHttpxClient, OpenAI

            transport = _DeadlineTransport(httpx2.HTTPTransport(), self.timeout_seconds)
            self._client = OpenAI(
                api_key=self.api_key,
                base_url=self.base_url or None,
                timeout=self.timeout_seconds,
                max_retries=self.max_retries,
                http_client=DefaultHttpxClient(transport=transport, timeout=self.timeout_seconds),
            )
        return self._client

    @contextlib.contextmanager
    def _translated_errors(self) -> Iterator[None]:
        """The SDK's exceptions as LlmErrors that say what to check (and never echo the key)."""
        import openai

        try:
            yield
        except openai.AuthenticationError:
            raise LlmConfigError(
                "The LLM server rejected the API key (HTTP 401): check OPENAI_API_KEY "
                "(and OPENAI_BASE_URL if you use a compatible server)."
            ) from None
        except openai.PermissionDeniedError:
            raise LlmConfigError(
                f"The API key may not use model {self.model!r} (HTTP 403): check ADELIE_LLM_MODEL and the "
                "key's project permissions."
            ) from None
        except openai.NotFoundError:
            raise LlmConfigError(
                f"Model {self.model!r} or the endpoint was not found (HTTP 404): check ADELIE_LLM_MODEL and "
                "OPENAI_BASE_URL."
            ) from None
        except openai.RateLimitError:
            raise LlmError(
                f"The LLM server kept answering 429 (rate limit or quota) after {self.max_retries} retries: "
                "check the account's quota and rate limits, then re-run the partition."
            ) from None
        except openai.APITimeoutError:
            raise LlmError(
                f"The LLM server did not answer within {self.timeout_seconds:g} s, {self.max_retries + 1} "
                "times: it is overloaded or down; re-run the partition later."
            ) from None
        except openai.APIConnectionError:
            raise LlmError(
                "Could not connect to the LLM server: check OPENAI_BASE_URL and the network."
            ) from None
        except openai.InternalServerError as exc:
            raise LlmError(
                f"The LLM server answered HTTP {exc.status_code} after {self.max_retries} retries: "
                "an outage on its side; re-run the partition later."
            ) from None
        except openai.BadRequestError as exc:
            raise LlmConfigError(
                f"The LLM server refused the request (HTTP 400: {_short(exc)}): does model "
                f"{self.model!r} support structured outputs?"
            ) from None

    def parse(self, messages: list[dict[str, str]], response_format: type[ModelT]) -> LlmAnswer:
        """One structured-output call. Raises LlmError for what retrying the same request cannot fix;
        lets `pydantic.ValidationError` and `openai.LengthFinishReasonError` through for the caller."""
        client = self.client()
        with self._translated_errors():
            completion = client.chat.completions.parse(
                model=self.model, messages=messages, response_format=response_format
            )
        message = completion.choices[0].message
        usage = completion.usage
        return LlmAnswer(
            parsed=message.parsed,
            refusal=message.refusal,
            request_id=getattr(completion, "_request_id", None),
            model=completion.model or self.model,
            input_tokens=usage.prompt_tokens if usage else 0,
            output_tokens=usage.completion_tokens if usage else 0,
            content=message.content,
        )

    def chat_body(self, messages: list[dict[str, str]], response_format: type[BaseModel]) -> dict[str, Any]:
        """The request body `parse` would send, for a Batch API line."""
        from openai.lib._parsing._completions import type_to_response_format_param

        return {
            "model": self.model,
            "messages": messages,
            "response_format": type_to_response_format_param(response_format),
        }

    def run_batch(
        self, bodies: dict[str, dict[str, Any]], poll_seconds: float, timeout_seconds: float
    ) -> dict[str, dict[str, Any]]:
        """Chat completions through the Batch API (half the price, answered within 24 h).

        Returns each output or error line by custom_id; a line an expired batch never answered is
        absent. A batch that does not finish in time is cancelled, so that it cannot be billed after
        the step has failed.
        """
        client = self.client()
        lines = "\n".join(
            json.dumps({"custom_id": cid, "method": "POST", "url": "/v1/chat/completions", "body": body})
            for cid, body in bodies.items()
        )
        with self._translated_errors():
            upload = client.files.create(file=("adelie-batch.jsonl", lines.encode("utf-8")), purpose="batch")
            batch = client.batches.create(
                input_file_id=upload.id, endpoint="/v1/chat/completions", completion_window="24h"
            )
            deadline = time.monotonic() + timeout_seconds
            while batch.status not in ("completed", "failed", "expired", "cancelled"):
                if time.monotonic() > deadline:
                    client.batches.cancel(batch.id)
                    raise LlmError(
                        f"LLM batch {batch.id} did not finish within {timeout_seconds:g} s and was "
                        "cancelled: raise batch_timeout_seconds (and the run tag dagster/max_runtime) "
                        "or use llm_mode sync."
                    )
                time.sleep(poll_seconds)
                batch = client.batches.retrieve(batch.id)
            # An expired batch still delivers (and bills) the lines it answered in its output file:
            # they are read as a completed batch's; the unanswered ones are missing from the result.
            if batch.status not in ("completed", "expired"):
                errors = getattr(batch, "errors", None)
                detail = "; ".join(e.message or "" for e in (errors.data or [])) if errors else ""
                raise LlmError(f"LLM batch {batch.id} ended {batch.status}{': ' + detail if detail else ''}.")
            results: dict[str, dict[str, Any]] = {}
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    for line in client.files.content(file_id).text.splitlines():
                        if line.strip():
                            item = json.loads(line)
                            results[item["custom_id"]] = item
        return results


class _DeadlineTransport:
    """An httpx transport whose answers must arrive whole within `seconds` of the request.

    httpx's timeouts bound each socket read: a server trickling a byte a second never hits them.
    A late body raises httpx's ReadTimeout, which the SDK retries and reports as a timeout.
    """

    def __init__(self, inner: Any, seconds: float) -> None:
        self.inner = inner
        self.seconds = seconds

    def handle_request(self, request: Any) -> Any:
        import httpx2

        deadline = time.monotonic() + self.seconds
        response = self.inner.handle_request(request)
        seconds = self.seconds

        class _Stream(httpx2.SyncByteStream):
            def __iter__(self) -> Iterator[bytes]:
                for chunk in response.stream:
                    if time.monotonic() > deadline:
                        raise httpx2.ReadTimeout(
                            f"the answer took longer than {seconds:g} s", request=request
                        )
                    yield chunk

            def close(self) -> None:
                response.stream.close()

        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_Stream(),
            extensions=response.extensions,
            request=request,
        )

    def close(self) -> None:
        self.inner.close()

    def __enter__(self) -> _DeadlineTransport:
        return self

    def __exit__(self, *args: object) -> None:
        self.close()


def _short(exc: Exception) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        text = str(body.get("message") or body)
    else:
        text = str(exc)
    return text.splitlines()[0][:200]
