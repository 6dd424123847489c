"""Absolute links, for mails, feeds and the API (also outside a request, e.g. from cron)."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, has_request_context, request
from werkzeug.sansio.utils import host_is_trusted

FALLBACK_BASE = "http://127.0.0.1:5000"

def base_url() -> str:
    configured = current_app.config.get("PORTAL_BASE_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        # Flask has refused an untrusted Host before any view runs (TRUSTED_HOSTS, set by
        # default when no base URL is configured); checked again here, so a link is never
        # built from a Host nobody trusted.
        trusted = current_app.config.get("TRUSTED_HOSTS")
        if trusted and host_is_trusted(request.host, trusted):
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
