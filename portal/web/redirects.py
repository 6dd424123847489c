"""Redirect targets taken from the request are checked here (no open redirects)."""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_next(target: str | None) -> str | None:
    """A same-site path, or None."""
    if not target or any(ord(c) < 32 or ord(c) == 127 for c in target):
        return None  # CR/LF and other control characters never reach a Location header
    try:
        parts = urlsplit(target)
    except ValueError:  # e.g. an unbalanced "[" in the host part
        return None
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return None
    if "\\" in target:
        return None
    return target


def referrer_path() -> str | None:
    """The same-site page the request came from (path and query), or None: where a confirmation
    page sends people back to, and where the confirmed action returns."""
    from flask import request

    referrer = request.referrer
    if not referrer:
        return None
    parts = urlsplit(referrer)
    if parts.netloc != request.host:
        return None
    return safe_next(parts.path + (f"?{parts.query}" if parts.query else ""))


def back_or(default: str):
    """Redirect to the page the form was on when it is on this site, else to ``default``."""
    from flask import redirect, request

    referrer = request.referrer
    if referrer and urlsplit(referrer).netloc == request.host:
        return redirect(referrer)
    return redirect(default)
