"""Conditional answers by HTTP's own rules: ETag / If-None-Match, Last-Modified /
If-Modified-Since, Cache-Control. The one caching mechanism of the portal: what spans
processes and hosts is kept by nginx (deploy/nginx.conf) or a CDN, and revalidated here with a
304 decided from a validator the caller computes cheaply (``portal.core.versions``), without
building the answer.

Policies:

- ``SHARED`` (public pages, the API, public feeds, for requests without a cookie or
  credentials): a shared cache may keep the answer 5 s and then must ask again (a 304 costs one
  small query); browsers revalidate every time (``max-age=0``), so a change is seen by
  everyone within 5 s.
- ``PERSONAL`` (a logged-in member's page, a visitor with a session cookie): never stored
  anywhere; it may show a name, a join link or a flashed message.
- ``PRIVATE`` (a personal feed's token URL): the client may keep it and revalidate it (a
  calendar app's poll gets a 304), no shared cache may.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime

from flask import Response, make_response, request
from flask.typing import ResponseReturnValue

SHARED = "public, max-age=0, s-maxage=5"
PERSONAL = "private, no-store"
PRIVATE = "private, no-cache"


def etag_of(validator: str) -> str:
    """The (unquoted) entity tag for ``validator``: short, and telling nothing of what it is made of."""
    return hashlib.sha256(validator.encode()).hexdigest()[:32]


def not_modified(validator: str, last_modified: datetime | None = None) -> bool:
    """Does the request's copy still hold? If-None-Match decides when present (weak comparison,
    any of a list, ``*``); otherwise If-Modified-Since against ``last_modified`` (RFC 9110 13.2.2)."""
    if request.method not in ("GET", "HEAD"):
        return False
    if request.headers.get("If-None-Match"):
        return request.if_none_match.contains_weak(etag_of(validator))
    since = request.if_modified_since
    return since is not None and last_modified is not None and _seconds(last_modified) <= since


def conditional(validator: str, build: Callable[[], ResponseReturnValue], *,
                last_modified: datetime | None = None, cache_control: str = "no-cache") -> Response:
    """Answer 304 (with the same ETag, Last-Modified and Cache-Control, no body) when the
    request's If-None-Match matches ``validator`` (or, with no If-None-Match, If-Modified-Since
    >= ``last_modified``); otherwise call ``build()`` and set ETag (from ``validator``),
    Last-Modified and Cache-Control on its answer. ``validator`` is computed by the caller
    cheaply, WITHOUT building the body, and *before* it reads the data the body is made of."""
    if not_modified(validator, last_modified):
        response = Response(status=304)
    else:
        response = make_response(build())
    response.set_etag(etag_of(validator))
    if last_modified is not None:
        response.last_modified = _seconds(last_modified)
    response.headers["Cache-Control"] = cache_control
    return response


def shared(validator: Callable[[], tuple[str, datetime | None]], build: Callable[[], ResponseReturnValue], *,
           last_modified: bool = True) -> Response:
    """A public answer: ``conditional`` with ``SHARED`` for a request without a cookie or
    credentials; for one with them (a logged-in member, a visitor's language choice or flashed
    message), ``build()`` as ``PERSONAL``, since the page may differ for them. ``validator``
    returns (validator, last change) and is called only when it is used."""
    if request.headers.get("Cookie") or request.headers.get("Authorization"):
        return personal(build)
    value, changed = validator()
    return conditional(value, build, last_modified=changed if last_modified else None, cache_control=SHARED)


def personal(build: Callable[[], ResponseReturnValue]) -> Response:
    response = make_response(build())
    response.headers["Cache-Control"] = PERSONAL
    response.vary.add("Cookie")
    return response


def _seconds(value: datetime) -> datetime:
    """HTTP dates have whole seconds."""
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=0)
