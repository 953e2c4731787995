"""Tripo (3D models) and FASHN (virtual try-on) API clients.

Both speak JSON over https with ``Authorization: Bearer <key>``; the key is never
logged nor put in an error. Every call has an explicit timeout
(MEDIA_HTTP_TIMEOUT_SECONDS) and bounded attempts (MEDIA_MAX_ATTEMPTS):

* retried: connection errors, 429 (except FASHN's ``OutOfCredits``) and 5xx, after the
  provider's ``Retry-After`` (seconds or an HTTP date, at most an hour) or
  ``MEDIA_RETRY_BASE_SECONDS * 2**(n-1)``. A ``Retry-After`` longer than
  ``MAX_INLINE_WAIT`` is not slept in the worker: the error is raised with
  ``retry_after`` and the job re-queues itself for then.
* a create (new task, new run) costs money and is not idempotent: after a timeout or a
  broken connection once the request was sent, it is not resent (``outcome_unknown``).
* 401 is ``ProviderAuthError``; Tripo's 403 "not enough credit" (code 2010) and FASHN's
  429 ``OutOfCredits`` are ``ProviderCreditError``; other 4xx ``ProviderPermanentError``.

Tripo (``{base}/v2/openapi``): ``POST /upload`` (multipart ``file``) -> ``data.image_token``
(newer answers call it ``file_token``); ``POST /task`` -> ``data.task_id``;
``GET /task/{id}`` -> ``data.status`` in queued, running, success, failed, cancelled,
unknown, banned, expired; ``data.progress`` 0-100; ``data.output`` with ``model``,
``pbr_model`` or ``base_model`` and ``rendered_image`` URLs. Every answer carries
``code`` (0 = ok) and, on errors, ``message`` and ``suggestion``.

FASHN (``{base}/v1``): ``POST /run`` ``{"model_name", "inputs"}`` -> ``{"id", "error"}``;
``GET /status/{id}`` -> ``status`` in starting, in_queue, processing, completed, failed,
``output`` (image URLs) and ``error`` (``{"name", "message"}``). API-level errors are
``{"error": <name>, "message"}``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, Self

import httpx
from django.conf import settings

from agents_app.media.exceptions import (
    ProviderAuthError,
    ProviderCreditError,
    ProviderError,
    ProviderPermanentError,
    ProviderTransientError,
)
from devskyy.core.http_retry import (
    RETRYABLE_STATUSES,
    Attempt,
    AttemptReport,
    Permanent,
    RetryPolicy,
    Transient,
    call_with_retries,
    parse_retry_after,
)

logger = logging.getLogger(__name__)

MAX_INLINE_WAIT = 5.0
_MAX_RETRY_AFTER = 3600.0
TRIPO_CREDIT_CODE = 2010


@dataclass(frozen=True)
class TaskState:
    """A provider task as we understand it, whichever provider answered."""

    status: str  # the provider's own word
    progress: int | None
    outputs: dict[str, str] = field(default_factory=dict)  # output name -> URL
    error_name: str = ""
    error_message: str = ""


class _ProviderClient:
    provider = ""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        timeout: float = 30.0,
        max_attempts: int = 4,
        retry_base: float = 1.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._retry = RetryPolicy.doubling(max_attempts=max_attempts, base=retry_base)
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            trust_env=False,
            transport=transport,
            headers={"Authorization": f"Bearer {api_key}", "Accept": "application/json"},
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Each provider says how its error bodies look and which ones are credit problems.
    def _error_fields(self, response: httpx.Response) -> tuple[str, str]:
        raise NotImplementedError

    def _is_credit_error(self, status: int, code: str) -> bool:
        raise NotImplementedError

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        files: dict[str, tuple[str, bytes, str]] | None = None,
        idempotent: bool,
    ) -> Any:
        url = self._base + path
        what = f"{method} {path.split('?', 1)[0]}"

        def attempt(at: Attempt) -> httpx.Response | Permanent | Transient:
            try:
                response = self._client.request(method, url, json=json, files=files)
            except httpx.ConnectError as exc:
                error = ProviderTransientError(
                    f"Could not connect to {self.provider} ({type(exc).__name__}).",
                    provider=self.provider,
                    attempts=at.number,
                )
                return Transient(error)
            except httpx.TransportError as exc:  # timeout or broken connection after sending
                error = ProviderTransientError(
                    f"{self.provider} did not answer {what} ({type(exc).__name__}).",
                    provider=self.provider,
                    attempts=at.number,
                    outcome_unknown=not idempotent,
                )
                return Transient(error, retryable=idempotent)
            return response if response.status_code < 300 else self._failure(response, what, at.number)

        def log_retry(done: AttemptReport) -> None:
            if done.outcome == "retry":
                logger.info("%s call %s: retry %d in %.2fs", self.provider, what, done.number, done.delay)

        response = call_with_retries(
            attempt, policy=self._retry, max_inline_retry_after=MAX_INLINE_WAIT, on_attempt=log_retry
        )
        try:
            return response.json()
        except ValueError:
            raise ProviderPermanentError(
                f"{self.provider} answered {what} with something that is not JSON.", provider=self.provider
            ) from None

    def _failure(self, response: httpx.Response, what: str, attempts: int) -> Permanent | Transient:
        status = response.status_code
        code, message = self._error_fields(response)
        context: dict[str, Any] = {
            "provider": self.provider,
            "http_status": status,
            "provider_code": code,
            "attempts": attempts,
        }
        if self._is_credit_error(status, code):
            return Permanent(
                ProviderCreditError(
                    f"{self.provider} has no credit left for this account ({status} {code}): {message}", **context
                )
            )
        if status in (401, 403):
            return Permanent(
                ProviderAuthError(
                    f"{self.provider} refused the API key ({status} {code}): {message or 'no message'}. "
                    f"Check {self.provider.upper()}_API_KEY.",
                    **context,
                )
            )
        if status in RETRYABLE_STATUSES:
            retry_after = parse_retry_after(response.headers.get("Retry-After"), cap=_MAX_RETRY_AFTER)
            error = ProviderTransientError(
                f"{self.provider} answered {status} to {what}: {message or 'no message'}",
                retry_after=retry_after,
                **context,
            )
            return Transient(error, retry_after=retry_after)
        return Permanent(
            ProviderPermanentError(
                f"{self.provider} refused {what} ({status} {code}): {message or 'no message'}", **context
            )
        )

    @staticmethod
    def _json_dict(response: httpx.Response) -> dict[str, Any]:
        try:
            data = response.json()
        except ValueError:
            return {}
        return data if isinstance(data, dict) else {}


class TripoClient(_ProviderClient):
    provider = "tripo"

    @classmethod
    def from_settings(cls) -> TripoClient:
        return cls(
            base_url=settings.TRIPO_BASE_URL,
            api_key=settings.TRIPO_API_KEY,
            timeout=settings.MEDIA_HTTP_TIMEOUT_SECONDS,
            max_attempts=settings.MEDIA_MAX_ATTEMPTS,
            retry_base=settings.MEDIA_RETRY_BASE_SECONDS,
        )

    def _error_fields(self, response: httpx.Response) -> tuple[str, str]:
        data = self._json_dict(response)
        message = str(data.get("message", ""))[:300]
        suggestion = str(data.get("suggestion", ""))[:300]
        return str(data.get("code", ""))[:32], f"{message} {suggestion}".strip()

    def _is_credit_error(self, status: int, code: str) -> bool:
        return status == 403 and code == str(TRIPO_CREDIT_CODE)

    def _data(self, body: Any, what: str) -> dict[str, Any]:
        if not isinstance(body, dict) or body.get("code") != 0 or not isinstance(body.get("data"), dict):
            code = str(body.get("code", "")) if isinstance(body, dict) else ""
            message = str(body.get("message", "")) if isinstance(body, dict) else ""
            raise ProviderPermanentError(
                f"tripo answered {what} without success ({code}): {message or 'no data'}",
                provider=self.provider,
                provider_code=code,
            )
        data: dict[str, Any] = body["data"]
        return data

    def upload_image(self, *, content: bytes, filename: str, content_type: str) -> str:
        """Upload an image; returns the token a task's ``file.file_token`` names."""
        data = self._data(
            self._call(
                "POST", "/v2/openapi/upload", files={"file": (filename, content, content_type)}, idempotent=True
            ),
            "upload",
        )
        token = data.get("image_token") or data.get("file_token")
        if not isinstance(token, str) or not token:
            raise ProviderPermanentError("tripo's upload answer has no image_token.", provider=self.provider)
        return token

    def create_task(self, body: dict[str, Any]) -> str:
        data = self._data(self._call("POST", "/v2/openapi/task", json=body, idempotent=False), "task creation")
        task_id = data.get("task_id")
        if not isinstance(task_id, str) or not task_id:
            raise ProviderPermanentError("tripo's task answer has no task_id.", provider=self.provider)
        return task_id

    def get_task(self, task_id: str) -> TaskState:
        data = self._data(self._call("GET", f"/v2/openapi/task/{task_id}", idempotent=True), "task status")
        output = data.get("output") if isinstance(data.get("output"), dict) else {}
        urls = {k: v for k, v in (output or {}).items() if isinstance(v, str) and v.startswith(("https://", "http://"))}
        progress = data.get("progress")
        return TaskState(
            status=str(data.get("status", "unknown")),
            progress=int(progress) if isinstance(progress, int | float) else None,
            outputs=urls,
        )


class FashnClient(_ProviderClient):
    provider = "fashn"

    @classmethod
    def from_settings(cls) -> FashnClient:
        return cls(
            base_url=settings.FASHN_BASE_URL,
            api_key=settings.FASHN_API_KEY,
            timeout=settings.MEDIA_HTTP_TIMEOUT_SECONDS,
            max_attempts=settings.MEDIA_MAX_ATTEMPTS,
            retry_base=settings.MEDIA_RETRY_BASE_SECONDS,
        )

    def _error_fields(self, response: httpx.Response) -> tuple[str, str]:
        data = self._json_dict(response)
        error = data.get("error")
        if isinstance(error, dict):
            return str(error.get("name", ""))[:64], str(error.get("message", ""))[:300]
        return str(error or "")[:64], str(data.get("message", ""))[:300]

    def _is_credit_error(self, status: int, code: str) -> bool:
        return code == "OutOfCredits"

    def run(self, *, model_name: str, inputs: dict[str, Any]) -> str:
        body = self._call("POST", "/v1/run", json={"model_name": model_name, "inputs": inputs}, idempotent=False)
        if not isinstance(body, dict):
            raise ProviderPermanentError("fashn's run answer is not an object.", provider=self.provider)
        if body.get("error"):
            error = body["error"]
            name = str(error.get("name", "")) if isinstance(error, dict) else str(error)
            message = str(error.get("message", "")) if isinstance(error, dict) else ""
            raise ProviderPermanentError(
                f"fashn refused the run ({name}): {message}", provider=self.provider, provider_code=name
            )
        run_id = body.get("id")
        if not isinstance(run_id, str) or not run_id:
            raise ProviderPermanentError("fashn's run answer has no id.", provider=self.provider)
        return run_id

    def status(self, run_id: str) -> TaskState:
        body = self._call("GET", f"/v1/status/{run_id}", idempotent=True)
        if not isinstance(body, dict):
            raise ProviderPermanentError("fashn's status answer is not an object.", provider=self.provider)
        output = body.get("output") if isinstance(body.get("output"), list) else []
        urls = {
            f"image_{n}": url
            for n, url in enumerate(output or [], start=1)
            if isinstance(url, str) and url.startswith(("https://", "http://"))
        }
        error = body.get("error") if isinstance(body.get("error"), dict) else {}
        return TaskState(
            status=str(body.get("status", "unknown")),
            progress=None,
            outputs=urls,
            error_name=str((error or {}).get("name", ""))[:64],
            error_message=str((error or {}).get("message", ""))[:500],
        )


__all__ = ["FashnClient", "ProviderError", "TaskState", "TripoClient"]
