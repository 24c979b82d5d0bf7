"""The Files and Batch APIs of ``FakeOpenAI``: stored files, and batches answered line by line."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from adelie_fakes.openai import wire
from adelie_fakes.openai.wire import _bad_request, _error_body, _list_body, _rand_id, _Reply


@dataclass
class _StoredFile:
    id: str
    filename: str
    purpose: str
    data: bytes
    created_at: int

    def as_object(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "file",
            "bytes": len(self.data),
            "created_at": self.created_at,
            "filename": self.filename,
            "purpose": self.purpose,
            "status": "processed",
            "expires_at": None,
            "status_details": None,
        }


@dataclass
class _Batch:
    id: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, Any] | None
    created_at: float
    delay: float
    model: str | None
    ok_lines: list[dict[str, Any]]
    error_lines: list[dict[str, Any]]
    prompt_tokens: int
    completion_tokens: int
    errors: list[dict[str, Any]] | None = None
    cancelled_at: float | None = None
    completed_at: float | None = None
    output_file_id: str | None = None
    error_file_id: str | None = None
    viewed: bool = False
    # Lines answered before the batch expires (None: it completes); the rest are never answered.
    expires_after_lines: int | None = None
    expired_at: float | None = None


class FilesAndBatches:
    """The files and batches part of ``FakeOpenAI``, which inherits it; the state lives on the fake."""

    _lock: threading.Lock
    _batch_lock: threading.RLock
    _files: dict[str, _StoredFile]
    _batches: dict[str, _Batch]
    _batch_line_count: int
    batch_delay: float
    # Set by a test: each new batch expires, as OpenAI's do past their 24 h window, after answering
    # this many lines; its output file holds those lines (billed), the others are never answered.
    batch_expires_after_lines: int | None = None

    def _create_file(self, filename: str, purpose: str, data: bytes) -> _StoredFile:
        stored = _StoredFile(
            id=_rand_id("file-"), filename=filename, purpose=purpose, data=data, created_at=int(time.time())
        )
        with self._lock:
            self._files[stored.id] = stored
        return stored

    @property
    def batch_input_lines(self) -> list[list[dict[str, Any]]]:
        """The lines of each uploaded batch input file, oldest first (what a batch asked)."""
        with self._lock:
            files = [f for f in self._files.values() if f.purpose == "batch"]
        return [
            [json.loads(line) for line in f.data.decode("utf-8").splitlines() if line.strip()]
            for f in sorted(files, key=lambda f: f.created_at)
        ]

    def _get_file(self, file_id: str) -> _StoredFile | None:
        with self._lock:
            return self._files.get(file_id)

    def _delete_file(self, file_id: str) -> bool:
        with self._lock:
            return self._files.pop(file_id, None) is not None

    def _create_batch(self, body: Mapping[str, Any], presented_key: str | None) -> _Reply:
        input_file_id = body.get("input_file_id")
        endpoint = body.get("endpoint")
        window = body.get("completion_window")
        if endpoint != "/v1/chat/completions":
            return _bad_request(
                f"Invalid value for 'endpoint': {endpoint!r}; the fake supports only /v1/chat/completions.",
                param="endpoint",
            )
        if window != "24h":
            return _bad_request("Invalid value for 'completion_window': only '24h' is supported.")
        source = self._get_file(str(input_file_id))
        if source is None:
            return _bad_request(f"Invalid 'input_file_id': {input_file_id!r}.", param="input_file_id")
        if source.purpose != "batch":
            return _bad_request(
                "The input file must be uploaded with purpose 'batch'.", param="input_file_id"
            )

        ok_lines: list[dict[str, Any]] = []
        error_lines: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        seen_ids: set[str] = set()
        model: str | None = None
        prompt_tokens = completion_tokens = 0
        lines = [ln for ln in source.data.decode("utf-8", "replace").splitlines() if ln.strip()]
        for number, line in enumerate(lines, start=1):
            try:
                item = json.loads(line)
            except ValueError:
                errors.append({"code": "invalid_json_line", "line": number, "message": "Invalid JSON."})
                continue
            custom_id = item.get("custom_id") if isinstance(item, dict) else None
            problem = None
            if not isinstance(custom_id, str) or not custom_id:
                problem = ("missing_custom_id", "Each line needs a non-empty 'custom_id'.")
            elif custom_id in seen_ids:
                problem = ("duplicate_custom_id", f"The custom_id {custom_id!r} is duplicated.")
            elif item.get("method") != "POST" or item.get("url") != endpoint:
                problem = ("mismatched_endpoint", f"Lines must be POST requests to {endpoint}.")
            elif not isinstance(item.get("body"), dict):
                problem = ("invalid_request", "Each line needs a JSON object 'body'.")
            if problem is not None:
                errors.append({"code": problem[0], "line": number, "message": problem[1], "param": None})
                continue
            seen_ids.add(custom_id)
            model = model or item["body"].get("model")
            fault = self._next_fault()
            # A batch has no connection to time out, so "hang" is meaningless here.
            reply = wire._complete(
                item["body"], None if fault == "hang" else fault, presented_key=presented_key
            )
            self._count_tokens(reply)
            with self._lock:
                self._batch_line_count += 1
            prompt_tokens += reply.prompt_tokens
            completion_tokens += reply.completion_tokens
            out = {
                "id": _rand_id("batch_req_", 32),
                "custom_id": custom_id,
                "response": {
                    "status_code": reply.status,
                    "request_id": _rand_id("req_", 32),
                    "body": reply.body,
                },
                "error": None,
            }
            (ok_lines if reply.status == 200 else error_lines).append(out)
        if not lines:
            errors.append({"code": "empty_file", "line": None, "message": "The input file is empty."})

        batch = _Batch(
            id=_rand_id("batch_", 32),
            input_file_id=source.id,
            endpoint=endpoint,
            completion_window=window,
            metadata=body.get("metadata") if isinstance(body.get("metadata"), dict) else None,
            created_at=time.time(),
            delay=float(self.batch_delay),
            model=model,
            ok_lines=ok_lines,
            error_lines=error_lines,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            errors=errors or None,
            expires_after_lines=self.batch_expires_after_lines,
        )
        with self._lock:
            self._batches[batch.id] = batch
        return _Reply(200, self._batch_object(batch))

    def _finish_batch(self, batch: _Batch, now: float) -> None:
        if batch.expires_after_lines is not None:
            batch.expired_at = now
            answered = batch.ok_lines + batch.error_lines
            kept = {id(line) for line in answered[: batch.expires_after_lines]}
            batch.ok_lines = [line for line in batch.ok_lines if id(line) in kept]
            batch.error_lines = [line for line in batch.error_lines if id(line) in kept]
        else:
            batch.completed_at = now
        if batch.ok_lines:
            batch.output_file_id = self._jsonl_file(f"{batch.id}_output.jsonl", batch.ok_lines).id
        if batch.error_lines:
            batch.error_file_id = self._jsonl_file(f"{batch.id}_error.jsonl", batch.error_lines).id

    def _jsonl_file(self, filename: str, lines: list[dict[str, Any]]) -> _StoredFile:
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode()
        return self._create_file(filename, "batch_output", data)

    def _batch_object(self, batch: _Batch, *, cancelling: bool = False) -> dict[str, Any]:
        with self._batch_lock:
            return self._batch_object_locked(batch, cancelling=cancelling)

    def _batch_object_locked(self, batch: _Batch, *, cancelling: bool) -> dict[str, Any]:
        now = time.time()
        first_view = not batch.viewed
        batch.viewed = True
        counts = {"total": len(batch.ok_lines) + len(batch.error_lines), "completed": 0, "failed": 0}
        if batch.errors:
            status = "failed"
            counts["total"] = 0
        elif batch.completed_at is not None:
            status = "completed"
        elif batch.expired_at is not None:
            status = "expired"
        elif batch.cancelled_at is not None:
            status = "cancelling" if cancelling else "cancelled"
        elif first_view:
            status = "validating"
        elif now - batch.created_at < batch.delay:
            status = "in_progress"
        else:
            self._finish_batch(batch, now)
            status = "expired" if batch.expired_at is not None else "completed"
        if status in ("completed", "expired"):
            counts["completed"], counts["failed"] = len(batch.ok_lines), len(batch.error_lines)
        done = status == "completed"
        created = int(batch.created_at)
        return {
            "id": batch.id,
            "object": "batch",
            "endpoint": batch.endpoint,
            "model": batch.model,
            "errors": {"object": "list", "data": batch.errors} if batch.errors else None,
            "input_file_id": batch.input_file_id,
            "completion_window": batch.completion_window,
            "status": status,
            "output_file_id": batch.output_file_id,
            "error_file_id": batch.error_file_id,
            "created_at": created,
            "in_progress_at": None if status in ("validating", "failed") else created,
            "expires_at": created + 24 * 3600,
            "finalizing_at": int(batch.completed_at) if done and batch.completed_at else None,
            "completed_at": int(batch.completed_at) if done and batch.completed_at else None,
            "failed_at": created if status == "failed" else None,
            "expired_at": int(batch.expired_at) if batch.expired_at else None,
            "cancelling_at": int(batch.cancelled_at) if batch.cancelled_at else None,
            "cancelled_at": int(batch.cancelled_at) if status == "cancelled" and batch.cancelled_at else None,
            "request_counts": counts,
            "usage": {
                "input_tokens": batch.prompt_tokens if done else 0,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": batch.completion_tokens if done else 0,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": batch.prompt_tokens + batch.completion_tokens if done else 0,
            },
            "metadata": batch.metadata,
        }

    def _batch_view(self, batch_id: str, *, cancel: bool = False) -> _Reply:
        with self._lock:
            batch = self._batches.get(batch_id)
        if batch is None:
            return _Reply(
                404,
                _error_body(
                    f"No batch found with id '{batch_id}'.", type_="invalid_request_error", param="id"
                ),
            )
        with self._batch_lock:
            if cancel and batch.completed_at is None and batch.cancelled_at is None and not batch.errors:
                batch.cancelled_at = time.time()
                return _Reply(200, self._batch_object(batch, cancelling=True))
            return _Reply(200, self._batch_object(batch))

    def _list_batches(self) -> _Reply:
        with self._lock:
            batches = sorted(self._batches.values(), key=lambda b: b.created_at, reverse=True)
        data = [self._batch_object(b) for b in batches]
        return _Reply(200, _list_body(data))

    def _list_files(self) -> _Reply:
        with self._lock:
            files = sorted(self._files.values(), key=lambda f: f.created_at, reverse=True)
        return _Reply(200, _list_body([f.as_object() for f in files]))
