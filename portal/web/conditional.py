"""Conditional GET by HTTP's own rules: 304 when the client's validator still matches.

Minimal copy of the agreed API (cache14 owns the real one): the caller computes ``validator``
cheaply, without building the body, so an unchanged answer costs no render.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime

from flask import Response, make_response, request


def conditional(validator: str, build: Callable[[], Response], *,
                last_modified: datetime | None = None,
                cache_control: str = "no-cache") -> Response:
    """Answer 304 (with the same ETag/Cache-Control headers, no body) when the request's
    If-None-Match matches `validator` (or, with no If-None-Match, If-Modified-Since >= last_modified);
    otherwise call build() and set ETag (from validator), Last-Modified and Cache-Control on it.
    `validator` is computed by the caller cheaply, WITHOUT building the body."""
    etag = hashlib.sha256(validator.encode()).hexdigest()[:32]
    if request.if_none_match:
        fresh = request.if_none_match.contains_weak(etag)
    else:
        since = request.if_modified_since
        fresh = last_modified is not None and since is not None and last_modified.replace(microsecond=0) <= since
    if fresh:
        response = Response(status=304)
    else:
        response = make_response(build())
    response.set_etag(etag)
    if last_modified is not None:
        response.last_modified = last_modified
    response.headers["Cache-Control"] = cache_control
    return response
