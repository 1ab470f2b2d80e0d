"""``html_response``: every HTML page, error pages included, sent with a strict
Content-Security-Policy. The markup belongs to ``aggregator.pages``; which page a
request gets belongs to the routes and the error handlers.
"""

from __future__ import annotations

from fastapi.responses import HTMLResponse, Response

from .. import pages


def html_response(body: str, status: int = 200) -> Response:
    """``body`` as an HTML response with the security headers every page carries."""
    return HTMLResponse(
        body,
        status_code=status,
        headers={
            "Content-Security-Policy": pages.CSP,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer",
            "X-Frame-Options": "DENY",
        },
    )
