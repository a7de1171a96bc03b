"""Which provider errors are worth retrying, and how long to wait before the next try."""

from __future__ import annotations

import random

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 529}
TRANSIENT_NAMES = ("Timeout", "Connection", "RateLimit", "ServiceUnavailable", "Overloaded", "InternalServer")


def status_of(exc: BaseException) -> int | None:
    for holder in (exc, getattr(exc, "response", None)):
        code = getattr(holder, "status_code", None)
        if isinstance(code, int):
            return code
    return None


def is_retryable(exc: BaseException) -> bool:
    """Rate limits, server errors, timeouts and dropped connections; never bad requests or auth."""
    status = status_of(exc)
    if status is not None:
        return status in RETRYABLE_STATUS
    names = [type(e).__name__ for e in (exc, exc.__cause__, exc.__context__) if e is not None]
    return any(part in name for name in names for part in TRANSIENT_NAMES)


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
