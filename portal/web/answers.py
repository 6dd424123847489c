"""Finished answers, kept per process until the database changes, and served before Flask.

Calendar apps poll their feeds often, mostly to learn that nothing changed, and a seminar's
announcement sends many visitors to the same public pages. A view that makes an ``Answer``
(ETag, Last-Modified, headers, body) returns it as its response and stores it here with the
change generation it was made at (``portal.core.changes``). While the generation is the same, the
next GET or HEAD of the same URL is answered from the store by this WSGI middleware, without
routing, hooks, sessions or a query: 304 when the client's validator matches, otherwise the
stored body. Any commit anywhere moves the generation, and the next request goes to the view
again, which asks the database.

Two limits make that safe for HTML pages too (``page``): a page is stored only as an
anonymous visitor without a cookie sees it, and served only to requests without one (an
account, a session, a language choice or a flashed message all come with a cookie); and a page
that changes with the clock (registration opens or closes, the seminar is over, a new day)
is stored only until then.

The same ``Answer`` object answers both paths, so a stored answer is the view's, byte for byte.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app, request
from werkzeug.http import http_date, parse_date, parse_etags

from portal.core import changes
from portal.core.changes import ChangeWatch
from portal.core.db import utcnow
from portal.web.headers import security_headers

StartResponse = Callable[..., object]
MAX_AGE = timedelta(seconds=60)


@dataclass(frozen=True, slots=True)
class Answer:
    """One URL's answer: a WSGI application that says 304 or sends the body."""

    etag: str  # quoted
    last_modified: datetime | None  # None for pages: only the ETag validates them
    headers: tuple[tuple[str, str], ...]  # every header but Content-Length and the validators
    body: bytes | None  # None: made for a 304; can answer only conditional requests

    def not_modified(self, environ: dict) -> bool:
        if_none_match = environ.get("HTTP_IF_NONE_MATCH")
        if if_none_match:
            # Quoted, weak (W/"…") or a list, as calendar clients send it; If-None-Match wins.
            return parse_etags(if_none_match).contains_weak(self.etag.strip('"'))
        if self.last_modified is None:
            return False
        since = parse_date(environ.get("HTTP_IF_MODIFIED_SINCE"))
        return since is not None and self.last_modified <= since

    def can_answer(self, environ: dict) -> bool:
        return self.body is not None or self.not_modified(environ)

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        validators = [("ETag", self.etag)]
        if self.last_modified is not None:
            validators.append(("Last-Modified", http_date(self.last_modified)))
        if self.not_modified(environ):
            start_response("304 NOT MODIFIED", [*validators, *self.headers])
            return []
        assert self.body is not None, "an answer made for a 304 was asked for its body"
        start_response("200 OK", [*validators, *self.headers, ("Content-Length", str(len(self.body)))])
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [self.body]


@dataclass(frozen=True, slots=True)
class _Stored:
    generation: int
    answer: Answer
    until: datetime  # the clock may change the answer then, or MAX_AGE has passed
    cookieless: bool  # made for, and served only to, requests without a cookie


class AnswerCache:
    """The store, and the middleware in front of the Flask app that answers from it."""

    def __init__(self, wsgi_app: Callable, watch: ChangeWatch, config: Mapping[str, Any], size: int = 512) -> None:
        self.wsgi_app = wsgi_app
        self.watch = watch
        self.config = config  # the app's, read per request: PORTAL_BASE_URL decides the key
        self.size = size
        self._entries: OrderedDict[tuple, _Stored] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        if self._entries and environ.get("REQUEST_METHOD") in ("GET", "HEAD") and not environ.get("QUERY_STRING"):
            key = self._key(environ)
            with self._lock:
                entry = self._entries.get(key)
            if (
                entry is not None
                and not (entry.cookieless and environ.get("HTTP_COOKIE"))
                and utcnow() < entry.until
                and entry.generation == self.watch.generation()
                and entry.answer.can_answer(environ)
            ):
                return entry.answer(environ, start_response)
        return self.wsgi_app(environ, start_response)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def put(self, environ: dict, generation: int | None, answer: Answer, *,
            until: datetime | None = None, cookieless: bool = False) -> None:
        """Keep ``answer`` for its URL while nothing changes after ``generation``, which the
        caller read *before* it read the data the answer is made of, and before ``until``;
        ``cookieless``: only for requests that carry no cookie."""
        if generation is None or environ.get("QUERY_STRING"):
            return
        key = self._key(environ)
        # Re-checked at least this often: a listener that went quiet without an error (a
        # dropped connection, a pooler that does not pass LISTEN on) cannot keep an answer forever.
        latest = utcnow() + MAX_AGE
        until = latest if until is None else min(until, latest)
        with self._lock:
            self._entries[key] = _Stored(generation, answer, until, cookieless)
            self._entries.move_to_end(key)
            while len(self._entries) > self.size:
                self._entries.popitem(last=False)


    def _key(self, environ: dict) -> tuple[str, str, str]:
        # Links inside an answer carry the request's host only when no PORTAL_BASE_URL is set,
        # and then only a trusted host is served at all (TRUSTED_HOSTS; any other gets 400 and
        # is never stored): a client sending endless Host names never grows the store.
        host = "" if self.config.get("PORTAL_BASE_URL") else environ.get("HTTP_HOST", "")
        return (environ.get("wsgi.url_scheme", ""), host,
                environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))


# --------------------------------------------------------------------------- for views: feeds and public pages


def generation() -> int | None:
    """The generation to store this request's answer with. A view reads it first, before it
    loads anything (an account by its feed token, a seminar): a change committed while the
    view works then leaves the stored answer out of date at once, instead of stored as current."""
    return changes.watch().generation()


def anonymous_generation() -> int | None:
    """``generation()`` for a page, or None when the page must not be stored: only a plain GET
    without a cookie or a query string gets the page that every such visitor gets."""
    if request.method != "GET" or request.query_string or request.headers.get("Cookie"):
        return None
    return generation()


def headers(content_type: str, *extra: tuple[str, str]) -> tuple[tuple[str, str], ...]:
    """A stored answer's headers: what Flask's own answer would carry, so both paths match."""
    return (
        *extra,
        ("Content-Type", content_type),
        # Flask adds this to every answer (Flask-Login looks at the session): a cookie gets another answer.
        ("Vary", "Cookie"),
        *security_headers(current_app.config),
    )


def page(html: str, generation: int | None, *, until: datetime | None) -> Answer | str:
    """The rendered page, stored for every anonymous visitor until a write or ``until``, when
    ``generation`` (from ``anonymous_generation``) allows; else the page as Flask sends it."""
    if generation is None:
        return html
    body = html.encode()
    answer = Answer(f'"{hashlib.sha256(body).hexdigest()[:32]}"', None, headers("text/html; charset=utf-8"), body)
    current_app.extensions["portal.web.answers"].put(request.environ, generation, answer, until=until, cookieless=True)
    return answer
