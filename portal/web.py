"""Absolute links, for mails, feeds and the API (also outside a request, e.g. from cron)."""

from __future__ import annotations

from flask import current_app, has_request_context, request

FALLBACK_BASE = "http://127.0.0.1:5000"


def base_url() -> str:
    configured = current_app.config.get("PORTAL_BASE_URL")
    if configured:
        return configured.rstrip("/")
    if has_request_context():
        return request.host_url.rstrip("/")
    return FALLBACK_BASE


def external_url(path: str) -> str:
    return base_url() + (path if path.startswith("/") else "/" + path)
