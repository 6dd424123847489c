"""Absolute links, for mails, feeds and the API (also outside a request, e.g. from cron)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, request

FALLBACK_BASE = "http://127.0.0.1:5000"

SECURITY_HEADERS = (
    # No inline script or style anywhere: templates load static files only.
    ("Content-Security-Policy",
     "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
     "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"),
    ("X-Frame-Options", "DENY"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
    ("Permissions-Policy", "camera=(), microphone=(), geolocation=()"),
)
HSTS = ("Strict-Transport-Security", "max-age=31536000")


def security_headers(config) -> tuple[tuple[str, str], ...]:
    """Headers on every answer: Flask's and the ones stored in portal.answers."""
    return (*SECURITY_HEADERS, HSTS) if config["SESSION_COOKIE_SECURE"] else SECURITY_HEADERS


def base_url() -> str:
    configured = current_app.config.get("PORTAL_BASE_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return FALLBACK_BASE


def external_url(path: str) -> str:
    return base_url() + (path if path.startswith("/") else "/" + path)


def external_url_for(endpoint: str, **values: object) -> str:
    """Like ``url_for(..., _external=True)``, but also outside a request (CLI, cron)."""
    base = urlsplit(base_url())
    adapter = current_app.url_map.bind(
        base.netloc, script_name=base.path or "/", url_scheme=base.scheme or "http"
    )
    return adapter.build(endpoint, values, force_external=True)
