"""One handler per edge for ``SecretaryError``: JSON under /api, HTML elsewhere."""

from __future__ import annotations

import html

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from secretary.errors import SecretaryError


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SecretaryError)
    async def _handle(request: Request, exc: SecretaryError) -> Response:
        if request.url.path.startswith(("/api", "/webhooks", "/healthz", "/readyz")):
            return JSONResponse(
                {"error": {"code": exc.code, "message": exc.message}}, status_code=exc.status_code
            )
        body = (
            "<!doctype html><title>Secretary</title><main style='font-family:sans-serif;"
            "max-width:40em;margin:4em auto'><h1>Something needs your attention</h1>"
            f"<p>{html.escape(exc.message)}</p><p><a href='/'>Back to Secretary</a></p></main>"
        )
        return HTMLResponse(body, status_code=exc.status_code)
