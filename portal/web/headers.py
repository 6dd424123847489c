"""Security headers on every answer."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

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


def security_headers(config: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return (*SECURITY_HEADERS, HSTS) if config["SESSION_COOKIE_SECURE"] else SECURITY_HEADERS
