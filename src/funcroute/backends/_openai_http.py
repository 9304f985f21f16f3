"""The HTTP side of :class:`funcroute.backends.openai.OpenAIBackend`: statuses, bodies, transport errors.

Pure functions of one response (or one httpx failure): which answers are worth retrying, what a
malformed body says, and how a completion is read out of ``choices[0].text``. The API key is
removed from every text that could reach an error message or a log.
"""

from __future__ import annotations

import json

import httpx

from funcroute._text import clip
from funcroute.backends._retry import MAX_RETRY_AFTER
from funcroute.backends._stops import stop_index
from funcroute.backends.base import Completion, Request
from funcroute.errors import BackendError

__all__ = [
    "Retry",
    "check_status",
    "parse_completion",
    "redact_url",
    "retry_after",
    "snippet",
    "transport_error",
]

_RETRY_STATUS = frozenset({408, 429})
_FINISH_ALIASES = {"eos_token": "stop", "stop_sequence": "stop", "eos": "stop", "max_tokens": "length"}
_SNIPPET = 300


class Retry(Exception):
    """A failed try that may succeed when repeated.

    Args:
        message: what went wrong, for the final error.
        retry_after: the server's ``Retry-After`` in seconds, when it sent one.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def redact_url(url: str) -> str:
    """The URL without user info (``http://user:pass@host`` -> ``http://host``)."""
    parsed = httpx.URL(url)
    if parsed.userinfo:
        return str(parsed.copy_with(username=None, password=None))
    return url


def retry_after(response: httpx.Response) -> float | None:
    """The response's ``Retry-After`` seconds, clamped to ``[0, MAX_RETRY_AFTER]``, or ``None``."""
    value = response.headers.get("retry-after")
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER) if value is not None else None
    except ValueError:
        return None


def snippet(response: httpx.Response, api_key: str | None) -> str:
    """The body (or its ``error.message``) on one line, at most 300 characters, with the key masked."""
    try:
        text = response.text
    except Exception:  # pragma: no cover - undecodable body
        text = "<undecodable body>"
    try:
        data = json.loads(text)
        if isinstance(data, dict) and "error" in data:
            error = data["error"]
            text = str(error.get("message", error) if isinstance(error, dict) else error)
    except ValueError:
        pass
    text = " ".join(text.split())
    if api_key:
        text = text.replace(api_key, "***")
    return clip(text, _SNIPPET, "...")


def check_status(response: httpx.Response, label: str, url: str, api_key: str | None) -> None:
    """Return on success; raise :class:`Retry` (5xx, 408, 429) or a final BackendError (other 4xx).

    Args:
        response: the server's answer.
        label: the backend's label for errors.
        url: the endpoint, redacted.
        api_key: removed from the quoted body.
    """
    status = response.status_code
    if status < 400:
        return
    message = f"HTTP {status} from {url}: {snippet(response, api_key) or '(empty body)'}"
    if status >= 500 or status in _RETRY_STATUS:
        raise Retry(message, retry_after(response))
    hint = ""
    if status == 404:
        hint = " (is base_url right, and does the server offer /v1/completions?)"
    elif status in (401, 403):
        hint = " (check api_key)"
    raise BackendError(label, message + hint, retryable=False)


def parse_completion(
    response: httpx.Response, request: Request, elapsed: float, label: str, url: str, api_key: str | None
) -> Completion:
    """The completion in a successful response, cut at the request's stop strings and ``stop_when``.

    Args:
        response: a response that passed :func:`check_status`.
        request: the request it answers.
        elapsed: seconds the try took.
        label: the backend's label for errors.
        url: the endpoint, redacted.
        api_key: removed from quoted bodies.

    Raises:
        BackendError: the body is not JSON or has no ``choices[0].text`` (not retryable).
    """
    status = response.status_code
    try:
        data = response.json()
    except ValueError:
        raise BackendError(
            label,
            f"malformed response from {url} (HTTP {status}): body is not JSON: "
            f"{snippet(response, api_key)!r}",
            retryable=False,
        ) from None
    choices = data.get("choices") if isinstance(data, dict) else None
    choice = choices[0] if isinstance(choices, list) and choices else None
    text = choice.get("text") if isinstance(choice, dict) else None
    if not isinstance(text, str) or not isinstance(choice, dict):
        raise BackendError(
            label,
            f"malformed response from {url} (HTTP {status}): no choices[0].text "
            f"in {snippet(response, api_key)!r}",
            retryable=False,
        )
    reason = choice.get("finish_reason")
    finish = _FINISH_ALIASES.get(str(reason), str(reason)) if reason else "unknown"
    cut = stop_index(text, request.stop, request.stop_when)
    if cut is not None:
        text, finish = text[:cut], "stop"
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    prompt_tokens = usage.get("prompt_tokens")
    completion_tokens = usage.get("completion_tokens")
    return Completion(
        text=text,
        finish_reason=finish,
        prompt_tokens=prompt_tokens if isinstance(prompt_tokens, int) else None,
        completion_tokens=completion_tokens if isinstance(completion_tokens, int) else None,
        elapsed_s=elapsed,
    )


def transport_error(exc: httpx.HTTPError, label: str, url: str, timeout: float) -> Retry:
    """Classify an httpx failure: a :class:`Retry`, or raise when retrying cannot help."""
    if isinstance(exc, httpx.UnsupportedProtocol) or not isinstance(exc, httpx.TransportError):
        raise BackendError(
            label, f"request to {url} failed: {type(exc).__name__}: {exc}", retryable=False
        ) from exc
    if isinstance(exc, httpx.TimeoutException):
        what = f"timed out after {timeout:g}s ({type(exc).__name__})"
    elif isinstance(exc, httpx.ConnectError):
        what = f"cannot connect ({exc})"
    else:
        what = f"connection failed ({type(exc).__name__}: {exc})"
    return Retry(f"{url} {what}")
