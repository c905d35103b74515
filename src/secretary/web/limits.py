"""Request body size limits, enforced while the body is read (issue 7).

A pure ASGI middleware: a declared ``Content-Length`` over the limit is refused before a
byte is read, and a streamed (chunked) body is counted as it arrives and cut off at the
limit, so a 100 MB upload costs at most the limit in memory. The push webhook gets its own,
smaller limit (a Pub/Sub push is a few hundred bytes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from secretary.kit.logging import get_logger

log = get_logger(__name__)


class BodyTooLarge(HTTPException):
    """Raised from ``receive`` once a streamed body passes its limit.

    An ``HTTPException`` so that FastAPI's body parsing re-raises it as is (it turns other
    errors met while reading into a 400) and the app's one handler renders it as 413."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the request body is larger than {limit} bytes")


def _payload(limit: int, request_id: str | None) -> bytes:
    error = {
        "code": "payload_too_large",
        "message": f"the request body is larger than {limit} bytes",
        "request_id": request_id or "",
        "details": {"max_bytes": limit},
    }
    return json.dumps({"error": error}).encode()


class BodyLimitMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        path_limits: Sequence[tuple[str, int]] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.path_limits = tuple(path_limits)

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.path_limits:
            if path.startswith(prefix):
                return limit
        return self.max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope.get("path", ""))
        headers = dict(scope.get("headers") or [])
        request_id = (headers.get(b"x-correlation-id") or b"").decode("latin-1")[:64] or None
        declared = headers.get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > limit
            except ValueError:
                too_big = False  # the server rejects a malformed length itself
            if too_big:
                log.info("request_body_refused", path=scope.get("path"), limit=limit)
                await self._refuse(send, limit, request_id)
                return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            log.info("request_body_cut_off", path=scope.get("path"), limit=limit)
            if not started:
                await self._refuse(send, limit, request_id)

    @staticmethod
    async def _refuse(send: Send, limit: int, request_id: str | None) -> None:
        body = _payload(limit, request_id)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
