"""Views that only read run their queries outside a transaction.

On PostgreSQL a transaction costs two round trips of its own per request: BEGIN before the
first query and ROLLBACK when the session ends. For a public page that reads a seminar and its
materials, that doubles the waiting. A view marked ``@read_only`` runs its queries in autocommit
mode instead. Any attempt to write in it raises: a write there would commit statement by
statement, so it must fail loudly (tests run every such view) instead of losing its atomicity.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from portal.core.db import db

_READ_ONLY = "portal.read_only"
View = TypeVar("View", bound=Callable[..., Any])


class WriteInReadOnlyView(RuntimeError):
    pass


def read_only(view: View) -> View:
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        session = db.session()
        if not session.in_transaction():  # first use of the database in this request
            session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
            session.info[_READ_ONLY] = True
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


@event.listens_for(Session, "before_flush")
def _no_flush(session: Session, flush_context: Any, instances: Any) -> None:
    if session.info.get(_READ_ONLY):
        raise WriteInReadOnlyView("a @read_only view tried to write")


@event.listens_for(Session, "do_orm_execute")
def _no_write(state: ORMExecuteState) -> None:
    if state.session.info.get(_READ_ONLY) and not state.is_select:
        raise WriteInReadOnlyView("a @read_only view tried to write")
