"""Load (404) and check (403) in one step, for every view.

The rules themselves live with their domain (``<domain>/access.py``: typed functions of a user
and an object, no request objects); this module turns their answers into HTTP: a missing object,
or one this viewer may not know exists (a draft), is 404; a visitor who may not act is sent to
log in; a logged-in account that may not act gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import abort
from flask_login import current_user
from sqlalchemy import ColumnElement, inspect, select

from portal.core.db import db

T = TypeVar("T")
V = TypeVar("V")

# Ids are 32-bit integers on PostgreSQL: a larger one names nothing (404), not a driver error.
MAX_ID = 2**31 - 1


def _in_range_or_404(ident: Any) -> None:
    if isinstance(ident, int) and not 0 < ident <= MAX_ID:
        abort(404)


def get_or_404(model: type[T], ident: Any, *, visible: Callable[[T, Any], bool] | None = None) -> T:
    """The object with this id, or 404; also 404 when ``visible(obj, user)`` says this viewer
    may not know it exists."""
    _in_range_or_404(ident)
    obj = db.session.get(model, ident)
    if obj is None or (visible is not None and not visible(obj, current_user)):
        abort(404)
    return obj


def get_with_or_404(model: type[T], ident: int, column: ColumnElement[V], *,
                    visible: Callable[[T, Any], bool] | None = None) -> tuple[T, V]:
    """``get_or_404``, and one more value read in the same query (a rule's SQL form, such as
    whether this viewer is registered): a view that every poll passes asks one query, not two."""
    _in_range_or_404(ident)
    row = db.session.execute(select(model, column).where(inspect(model).primary_key[0] == ident)).first()
    if row is None or (visible is not None and not visible(row[0], current_user)):
        abort(404)
    return row[0], row[1]


def require(allowed: bool) -> None:
    """Continue when allowed; else the log-in page for visitors and 403 for accounts."""
    if allowed:
        return
    if not current_user.is_authenticated:
        from portal.extensions import login_manager

        abort(login_manager.unauthorized())
    abort(403)
