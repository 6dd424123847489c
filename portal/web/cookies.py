"""The session cookie: Flask's signed cookie, re-sent at most once a minute when unchanged.

The idle limit (PERMANENT_SESSION_LIFETIME) is the cookie's signed timestamp, so Flask re-signs,
compresses and re-sends it on every request by default: during a seminar that is every attendee's
poll, every 5 s, for nothing. Re-sent only when its content changed or its signature is a minute
old (a tenth of the idle limit, if that is shorter), the idle limit still runs from the last
minute of activity.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import BadSignature

REFRESH_AFTER_SECONDS = 60


class SessionCookie(SecureCookieSession):
    signed_at: datetime | None = None  # when the cookie it came from was signed


class SessionCookies(SecureCookieSessionInterface):
    session_class = SessionCookie

    def open_session(self, app: Flask, request: Request) -> SessionCookie | None:
        if self.get_signing_serializer(app) is None:
            return None
        return self.load(app, request.cookies.get(self.get_cookie_name(app))) or self.session_class()

    def load(self, app: Flask, value: str | None) -> SessionCookie | None:
        """The session in a cookie's ``value``, if its signature holds and is within the idle limit
        (None: no key, no value, a bad or expired signature). Also read before Flask (qa/live.py)."""
        serializer = self.get_signing_serializer(app)
        if serializer is None or not value:
            return None
        try:
            data, signed_at = serializer.loads(value, max_age=int(app.permanent_session_lifetime.total_seconds()),
                                               return_timestamp=True)
        except BadSignature:  # includes an expired one
            return None
        if not isinstance(data, dict):
            return None
        session = self.session_class(data)
        session.signed_at = signed_at
        return session

    def should_set_cookie(self, app: Flask, session: Any) -> bool:
        if session.modified:
            return True
        if not (session.permanent and app.config["SESSION_REFRESH_EACH_REQUEST"]):
            return False
        return self.due(app, session)

    @staticmethod
    def due(app: Flask, session: Any) -> bool:
        """Is the cookie old enough to be signed again (then Flask re-sends it)?"""
        refresh_after = min(REFRESH_AFTER_SECONDS, app.permanent_session_lifetime.total_seconds() / 10)
        signed_at = getattr(session, "signed_at", None)
        return signed_at is None or (datetime.now(UTC) - signed_at).total_seconds() >= refresh_after
