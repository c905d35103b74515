"""One Google error path (issue #8): ``google.errors`` is the one translation, the retry
classifier reads it, and there is one ``AccountNotFound``, one ``CircuitOpen`` and one
``Retry-After`` parser."""

from __future__ import annotations

import json
from datetime import timedelta
from email.utils import format_datetime

import httplib2
import pytest
from googleapiclient.errors import HttpError

from secretary.accounts import errors as account_errors
from secretary.drafting.gmail import DraftCreateFailed
from secretary.google import errors, resilience
from secretary.kit.clock import utcnow
from secretary.kit.retry_after import parse_retry_after
from secretary.llm.provider import retry_after_from
from secretary.sync import errors as sync_errors


def http_error(status: int, reason: str = "x", headers: dict[str, str] | None = None) -> HttpError:
    resp = httplib2.Response({"status": str(status), **(headers or {})})
    body = json.dumps({"error": {"code": status, "errors": [{"reason": reason}]}}).encode()
    return HttpError(resp, body)


@pytest.mark.parametrize(
    "exc",
    [
        http_error(429),
        http_error(500),
        http_error(503),
        http_error(403, "rateLimitExceeded"),
        http_error(403, "quotaExceeded"),
        http_error(403, "insufficientPermissions"),
        http_error(400),
        http_error(404),
        http_error(401),
        ConnectionResetError(),
        TimeoutError(),
        ValueError(),
        errors.AccountNeedsReauth("revoked"),
        errors.CircuitOpen("open"),
    ],
)
def test_classify_is_the_translation(exc: BaseException) -> None:
    translated = errors.translate(exc)
    verdict = resilience.classify(exc)
    if translated is None:
        assert verdict is resilience.Verdict.FATAL
    elif type(translated) is errors.GoogleAuthError:
        assert verdict is resilience.Verdict.UNAUTHORIZED
    else:
        expected = resilience.Verdict.RETRY if translated.retryable else resilience.Verdict.FATAL
        assert verdict is expected, (exc, translated)


def test_one_of_each() -> None:
    assert sync_errors.AccountNotFound is account_errors.AccountNotFound
    assert resilience.CircuitOpen is errors.CircuitOpen
    assert issubclass(errors.CircuitOpen, errors.GoogleError)
    assert errors.CircuitOpen("x").retryable
    assert account_errors.AccountNotFound(7).account_id == 7
    assert account_errors.AccountNotFound("no such account").account_id is None


def test_every_retry_after_reads_dates_and_seconds_alike() -> None:
    later = format_datetime(utcnow() + timedelta(seconds=120), usegmt=True)
    assert parse_retry_after("7") == 7
    assert 100 < (parse_retry_after(later) or 0) <= 120
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0
    assert parse_retry_after("soon") is None
    for headers in ({"retry-after": "7"}, {"retry-after": later}):
        google = errors.from_http_error(http_error(429, headers=headers))
        assert isinstance(google, errors.GoogleRateLimited)
        values = (
            google.retry_after,
            resilience.retry_after_seconds(headers),
            retry_after_from(headers),
            DraftCreateFailed.from_http_error(http_error(429, headers=headers)).retry_after_seconds,
        )
        assert all(v is not None and abs(v - values[0]) < 2 for v in values), values
