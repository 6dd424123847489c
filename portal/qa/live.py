"""The live list's fast lane: a poll answered before Flask, from the process's snapshot.

Every attendee polls the list every 5 s. Through Flask, a poll that only serves the snapshot
still cost 3–5 ms (the request's context; the session's record, the account, the seminar and
the viewer's registration read from the database in a transaction begun and rolled back): half
of the app's CPU in a live seminar (bench/seminar_day.py). Here it costs a cookie's signature
check and a few dictionary look-ups.

Who may take the lane: a session Flask has answered this same poll for, after every check of
the view (the session's record and lifetime, the account, the registration or the secretariat's
role): ``grant`` leaves a pass. The pass holds the guard (``queries.GUARD_SCOPES``: sessions
ended, registrations, the seminars) of the snapshot served, if that was read *before* the
request came in (so before its checks), and is honoured only while the snapshot served was read
with the same guard. So a log-out, a
cancellation, a role change or an unpublished seminar anywhere sends every holder back through
Flask's checks as soon as the snapshot is renewed (its age, 0.5 s): access is as fresh as the
list itself. Everything else goes to Flask too: a snapshot past its age (Flask answers from it
and renews it), a view not rendered yet, a cookie signed a minute ago or more (Flask re-signs
it: web/cookies.py), another account or language in the cookie than the pass was given for, a
session past its absolute lifetime, any other URL or method.

The answer is Flask's own: the same body, ETag (``view_validator``) and headers, the ones Flask's
answer carried when the pass was given.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from flask import Flask, request, session
from flask_login import current_user
from werkzeug.http import parse_cookie, parse_etags

from portal.web.conditional import etag_of
from portal.web.cookies import SessionCookie, SessionCookies
from portal.web.snapshots import Snapshot, Snapshots

POLL = re.compile(r"/seminars/[1-9][0-9]{0,9}/questions(?:/presenter)?")
ENTERED = "portal.live.entered"  # environ: time.monotonic() when the request came in
OFFERED = "portal.live.pass"  # environ: the pass the view grants, kept if its answer is a 200
MAX_PASSES = 10_000  # one per attendee and list; the oldest go first
# Headers that are the answer's own; the others are copied from Flask's answer.
OWN = {"content-length", "etag", "set-cookie", "date"}

Start = Callable[..., Any]


@dataclass(frozen=True)
class Pass:
    user: object  # the cookie's account
    lang: object  # the cookie's language choice
    key: tuple[object, ...]  # the snapshot's
    view: tuple[object, ...]  # the view's, in that snapshot
    guard: str  # the guard it was given under
    ends: float  # time.time() when the session reaches its absolute lifetime
    headers: tuple[tuple[str, str], ...] = ()  # Flask's answer's, but its own


def view_validator(snapshot: Snapshot, view: tuple[object, ...]) -> str:
    """The validator (ETag's source) of a view of a snapshot, in Flask's answer and the lane's."""
    return "|".join((snapshot.validator, *map(str, view)))


def grant(key: tuple[object, ...], snapshot: Snapshot, view: tuple[object, ...]) -> None:
    """After every check of this poll: offer its session the lane for this list (kept by
    ``FastLane`` if the answer is a 200, with its headers). Only with a snapshot read before the
    request came in: its guard was read before this request's checks."""
    entered = request.environ.get(ENTERED)
    ends = getattr(current_user, "session_ends", None)
    if entered is None or snapshot.built >= entered or not isinstance(ends, datetime):
        return
    request.environ[OFFERED] = Pass(session.get("_user_id"), session.get("lang"), key, view, snapshot.guard,
                                    ends.timestamp())


class FastLane:
    """WSGI middleware in front of the app: polls with a pass and a fresh snapshot are answered
    here, the rest by the app."""

    def __init__(self, app: Flask, inner: Callable[[dict[str, Any], Start], Iterable[bytes]]):
        self.app, self.inner = app, inner
        self.lock = threading.Lock()
        self.passes: OrderedDict[tuple[str, str, str], Pass] = OrderedDict()

    def __call__(self, environ: dict[str, Any], start_response: Start) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "GET" or not POLL.fullmatch(environ.get("PATH_INFO", "")):
            return self.inner(environ, start_response)
        environ[ENTERED] = time.monotonic()
        snapshots: Snapshots | None = self.app.extensions.get("snapshots")
        cookies = self.app.session_interface
        cookie = cookies.load(self.app, parse_cookie(environ).get(cookies.get_cookie_name(self.app))) \
            if isinstance(cookies, SessionCookies) else None
        sid = cookie.get("sid") if cookie is not None else None
        if snapshots is None or cookie is None or not isinstance(sid, str):
            return self.inner(environ, start_response)
        key = (sid, environ["PATH_INFO"], environ.get("QUERY_STRING", ""))
        with self.lock:
            held = self.passes.get(key)
        answer = self._answer(environ, held, snapshots, cookie) if held is not None else None
        if answer is not None:
            status, headers, body = answer
            start_response(status, headers)
            return [body]
        return self._through_flask(environ, start_response, key)

    def _answer(self, environ: dict[str, Any], held: Pass, snapshots: Snapshots, cookie: SessionCookie
                ) -> tuple[str, list[tuple[str, str]], bytes] | None:
        if (cookie.get("_user_id") != held.user or cookie.get("lang") != held.lang or time.time() >= held.ends
                or SessionCookies.due(self.app, cookie)):  # Flask re-signs a cookie that is due
            return None
        snapshot = snapshots.held(held.key)
        if (snapshot is None or snapshot.guard != held.guard
                or time.monotonic() - snapshot.built >= self.app.config["QA_LIVE_MAX_AGE_SECONDS"]):
            return None
        text = snapshot.views.get(held.view)
        if text is None:
            return None
        etag = etag_of(view_validator(snapshot, held.view))
        headers = [*held.headers, ("ETag", f'"{etag}"')]
        if parse_etags(environ.get("HTTP_IF_NONE_MATCH")).contains_weak(etag):
            return "304 NOT MODIFIED", [h for h in headers if h[0].lower() != "content-type"], b""
        body = text.encode()
        return "200 OK", [*headers, ("Content-Length", str(len(body)))], body

    def _through_flask(self, environ: dict[str, Any], start_response: Start, key: tuple[str, str, str]
                       ) -> Iterable[bytes]:
        """Flask answers; the view may offer a pass (``grant``), kept when the answer is a 200."""
        def keep(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            offered = environ.get(OFFERED)
            if isinstance(offered, Pass) and status.startswith("200"):
                own = tuple((name, value) for name, value in headers if name.lower() not in OWN)
                with self.lock:
                    self.passes[key] = replace(offered, headers=own)
                    self.passes.move_to_end(key)
                    while len(self.passes) > MAX_PASSES:
                        self.passes.popitem(last=False)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        return self.inner(environ, keep)


def install(app: Flask) -> None:
    app.wsgi_app = FastLane(app, app.wsgi_app)  # type: ignore[method-assign]
