"""Snapshots: one answer built once and served to everyone polling it for a moment.

The one exception to "caching by HTTP only" (portal/web/conditional.py), for the live Q&A
list: a thousand attendees poll the same list every 5 s while votes arrive 20 times a second,
so the list changes between almost any two polls and a validator alone saves nothing; behind
nginx every poll was a render (bench/seminar_day.py: 21 polls/s, p95 2.5 s). A snapshot is
kept per process for ``max_age`` seconds (the list is at most that much behind the database),
then revalidated from the database's change counters (``portal.core.versions``, moved by
triggers, so a write that bypasses the ORM is seen too) and rebuilt only when they moved.

A snapshot holds what was *read* (``build()``), and each view of it rendered once, when first
asked (``Snapshot.view``): the attendees' and the moderators' lists, in either order and any
language, are views of one read, so the one moderator (the only poller of their list) renders
from what the attendees' polls read a moment ago instead of reading it all again.

A snapshot past its age but within ``stale`` seconds more is served as it is, and renewed
once the answer has gone (``after_answer``): otherwise the poll that found it old waited for the
read (20–40 ms, more on a busy machine), and with every process renewing twice a second those
polls were the slowest 5 % (bench/seminar_day.py). Past ``stale`` (a process polled seldom) the
poll renews it first, so nobody gets a list older than ``max_age + stale``.

Kept on the app (no state shared between apps, so tests cannot leak into each other),
bounded, and guarded by a lock (threaded servers: tests, gthread workers): while one thread
renews a snapshot, the others serve the one it replaces (a moment older) rather than build it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

from portal.web.responses import after_answer

MAX_ENTRIES = 64  # keys are seminar × read (recent, whole, presenter): a handful are live at once


@dataclass(frozen=True)
class Snapshot:
    validator: str
    data: Any  # what build() read
    built: float  # time.monotonic() just after its validator was last read
    # Each view of ``data`` as rendered, kept while the validator holds (a renewal with the
    # same validator keeps them). A handful: template × attendee/moderator × order × language.
    views: dict[tuple[object, ...], str] = field(default_factory=dict)
    # Read with the validator, the counters of what may end a viewer's access (qa/live.py's
    # passes hold while it is the same).
    guard: str = ""

    def view(self, key: tuple[object, ...], render: Callable[[Any], str]) -> str:
        """``render(data)``, once per ``key`` (two threads may both render it: the same text)."""
        held = self.views.get(key)
        if held is None:
            held = self.views[key] = render(self.data)
        return held


class Snapshots:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.entries: OrderedDict[tuple[object, ...], Snapshot] = OrderedDict()
        self.building: set[tuple[object, ...]] = set()  # keys one thread is renewing now

    def get(self, key: tuple[object, ...], max_age: float, validator: Callable[[], tuple[str, str]],
            build: Callable[[], Any], *, stale: float = 0.0,
            warm: Callable[[Snapshot], object] | None = None) -> Snapshot:
        """The snapshot for ``key``: as stored while younger than ``max_age``; else the stored
        one if ``validator()`` (the validator, and the guard kept beside it) still matches it, else
        ``build()``'s (the validator read before the build, as ``conditional`` does, so a racing
        write gives a newer version later).
        Younger than ``max_age + stale``, the stored one is served and renewed after the answer,
        then ``warm(renewed)`` (render what this request asked, so the next poll only serves it)."""
        now = time.monotonic()
        with self.lock:
            held = self.entries.get(key)
            if held is not None and now - held.built < max_age:
                return held
            if held is not None and key in self.building:
                return held  # another thread of this process is renewing it: this one a moment old
            self.building.add(key)
        if held is not None and now - held.built < max_age + stale:

            def renew() -> None:
                renewed = self._renew(key, held, validator, build)
                if warm is not None:
                    warm(renewed)

            after_answer(renew)
            return held
        return self._renew(key, held, validator, build)

    def _renew(self, key: tuple[object, ...], held: Snapshot | None,
               validator: Callable[[], tuple[str, str]], build: Callable[[], Any]) -> Snapshot:
        """Read the validator, then build only if it moved; ``key`` is in ``building`` until done."""
        try:
            current, guard = validator()
            now = time.monotonic()
            if held is not None and held.validator == current:
                fresh = Snapshot(current, held.data, now, held.views, guard)
            else:
                fresh = Snapshot(current, build(), now, guard=guard)
        finally:
            with self.lock:
                self.building.discard(key)
        with self.lock:
            self.entries[key] = fresh
            self.entries.move_to_end(key)
            while len(self.entries) > MAX_ENTRIES:
                self.entries.popitem(last=False)
        return fresh

    def held(self, key: tuple[object, ...]) -> Snapshot | None:
        """The stored snapshot for ``key``, whatever its age."""
        with self.lock:
            return self.entries.get(key)


def snapshots() -> Snapshots:
    held = current_app.extensions.get("snapshots")
    return held if held is not None else current_app.extensions.setdefault("snapshots", Snapshots())
