"""Which provider errors are worth retrying, how long to wait before the next try, and which make every call fail."""

from __future__ import annotations

import random
import re
from typing import Any

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}
TRANSIENT_NAMES = ("Timeout", "Connection", "RateLimit", "ServiceUnavailable", "Overloaded", "InternalServer")
NO_QUOTA = "insufficient_quota"  # OpenAI's 429 for an account without credit: retrying never helps


def status_of(exc: BaseException) -> int | None:
    for holder in (exc, getattr(exc, "response", None)):
        code = getattr(holder, "status_code", None)
        if isinstance(code, int):
            return code
    return None


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and its causes, outermost first (each once)."""
    out: list[BaseException] = []
    seen: BaseException | None = exc
    while seen is not None and seen not in out and len(out) < 8:
        out.append(seen)
        seen = seen.__cause__ or seen.__context__
    return out


def error_body(exc: BaseException) -> dict[str, Any]:
    """The provider's error object ({message, code, type…}) when the exception carries one, else {}."""
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        inner = body.get("error")
        return inner if isinstance(inner, dict) else body
    return {}


def error_code(exc: BaseException) -> str | None:
    code = getattr(exc, "code", None) or error_body(exc).get("code") or error_body(exc).get("type")
    return code if isinstance(code, str) else None


def is_retryable(exc: BaseException) -> bool:
    """Rate limits, server errors, timeouts and dropped connections; never bad requests, auth or an empty account."""
    status = status_of(exc)
    if status is not None:
        return status in RETRYABLE_STATUS and error_code(exc) != NO_QUOTA
    names = [type(e).__name__ for e in (exc, exc.__cause__, exc.__context__) if e is not None]
    return any(part in name for name in names for part in TRANSIENT_NAMES)


def is_unreachable(exc: BaseException) -> bool:
    """No connection to the endpoint at all (refused, unknown host, no route), as opposed to a slow answer."""
    if status_of(exc) is not None:
        return False
    names = [type(e).__name__ for e in _chain(exc)]
    if "ConnectTimeout" in names:
        return True
    return any("Connect" in n for n in names) and not any("Timeout" in n for n in names)


def every_call_fails(exc: BaseException) -> str | None:
    """Why no call to this engine can succeed, or None for a failure of one call: 'unreachable' (no connection),
    'auth' (HTTP 401/403), 'not_found' (HTTP 404: a model or path the server does not have) or 'quota'."""
    status = status_of(exc)
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"
    if status == 429 and error_code(exc) == NO_QUOTA:
        return "quota"
    return "unreachable" if is_unreachable(exc) else None


def reason_of(exc: BaseException) -> str:
    """The most specific short text an error has: the server's message, or the innermost cause's."""
    message = error_body(exc).get("message")
    if isinstance(message, str) and message.strip():
        return message.strip().splitlines()[0][:200]
    for e in reversed(_chain(exc)):
        text = re.sub(r"^\[Errno -?\d+\] ", "", str(e).strip())  # "[Errno 111] Connection refused"
        if text:
            return text.splitlines()[0][:200]
    return type(exc).__name__


def retry_after(exc: BaseException) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None)
    value = headers.get("retry-after") if headers is not None else None
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def backoff_seconds(attempt: int, exc: BaseException, *, base: float, cap: float) -> float:
    """Exponential backoff with full jitter; a server's Retry-After wins when it is sooner than the cap."""
    hinted = retry_after(exc)
    if hinted is not None:
        return min(hinted, cap)
    return random.uniform(0, min(cap, base * 2**attempt))
