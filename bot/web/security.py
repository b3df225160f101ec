"""Security headers on every response: what a browser may load, frame or send on from our pages.

The pages carry no inline scripts (inline SVG for the QR code, one inline <style>; the booking page loads its
pay button's script from our own origin), so the policy is strict. A view
that needs another policy sets its own Content-Security-Policy: headers already on a response are kept.
"""
from __future__ import annotations

from flask import Flask, Response

CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "img-src 'self' data: https:",
    "style-src 'self' 'unsafe-inline'",
    "script-src 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
])

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # Booking links carry their token in the query string: no page of ours hands it to another site.
    "Referrer-Policy": "no-referrer",
}


def init_app(app: Flask) -> None:
    """Add the headers to every response of `app` that lacks them (error pages and the API too)."""
    app.after_request(add_headers)


def add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    return response
