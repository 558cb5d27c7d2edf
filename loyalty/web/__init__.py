"""The admin page: an HTML shell, its script modules and a style sheet, served from here."""

from __future__ import annotations

import functools
import gzip
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

STATIC = Path(__file__).parent / "static"

FILES = {
    "admin.html": "text/html; charset=utf-8",
    "admin.css": "text/css; charset=utf-8",
    "admin.js": "text/javascript; charset=utf-8",
    "analytics.js": "text/javascript; charset=utf-8",
    "catalog.js": "text/javascript; charset=utf-8",
    "core.js": "text/javascript; charset=utf-8",
    "customers.js": "text/javascript; charset=utf-8",
    "fields.js": "text/javascript; charset=utf-8",
    "rules.js": "text/javascript; charset=utf-8",
}

# The page loads only its own files and talks only to its own origin, so an injected
# script or a framing site gets nowhere even if a value slipped through unescaped.
HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-cache",
}


@functools.lru_cache(maxsize=len(FILES))
def _gzipped(name: str, modified: float) -> bytes:
    """A file compressed once (again when it changes): a fifth of the bytes on a slow link."""
    return gzip.compress((STATIC / name).read_bytes(), compresslevel=9, mtime=0)


def _file(request: Request, name: str) -> Response:
    if name not in FILES:
        return PlainTextResponse("Not Found", status_code=404)
    path = STATIC / name
    headers = {**HEADERS, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = _gzipped(name, path.stat().st_mtime)
        headers["Content-Encoding"] = "gzip"
        return Response(body, media_type=FILES[name], headers=headers)
    return FileResponse(path, media_type=FILES[name], headers=headers)


async def page(request: Request) -> Response:
    return _file(request, "admin.html")


async def asset(request: Request) -> Response:
    return _file(request, request.path_params["name"])


def routes() -> list[BaseRoute]:
    return [Route("/admin", page), Route("/admin/{name}", asset)]
