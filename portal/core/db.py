"""Database primitives shared by every domain: the ``db`` object, column types and helpers.

No request objects here: services, jobs and the CLI use these the same way views do.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import DateTime, Enum, ForeignKey, MetaData
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase, Mapped, MappedColumn, mapped_column
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

# Named constraints so Alembic batch migrations on SQLite can find them.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)

# Models subclass ``Model``: Flask-SQLAlchemy's ``db.Model`` at run time (table names, query
# helpers); to the type checker, the declarative base it is built on.
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


@contextmanager
def transaction() -> Iterator[None]:
    """The unit of work outside requests (CLI commands, jobs): everything in the block commits
    together, or nothing does and the error goes on. Views use ``web.uow.unit_of_work``."""
    try:
        yield
    except BaseException:
        db.session.rollback()
        raise
    db.session.commit()


class UTCDateTime(TypeDecorator):
    """An instant, stored in UTC and always returned timezone-aware.

    PostgreSQL keeps the zone (timestamptz); SQLite returns naive values, which are UTC by
    construction here. This is the one place where that is normalized.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class latest(FunctionElement[datetime]):
    """The latest of several instants, NULLs skipped (the first must not be NULL), worked out by
    the database: a long list reads one instant per row instead of six to compare in Python."""

    type = UTCDateTime()
    name = "latest"
    inherit_cache = True


@compiles(latest)
def _latest(element: latest, compiler: Any, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"  # PostgreSQL's skips NULLs


@compiles(latest, "sqlite")
def _latest_sqlite(element: latest, compiler: Any, **kw: Any) -> str:
    # SQLite's MAX() of several values is NULL when one is, and it compares the stored text
    # (one fixed format, so text order is time order): a NULL stands in as the first value.
    first, *rest = [compiler.process(clause, **kw) for clause in element.clauses]
    return "MAX(" + ", ".join([first, *(f"COALESCE({other}, {first})" for other in rest)]) + ")"


def utcnow() -> datetime:
    return datetime.now(UTC)


def enum_column(enum_cls: type[enum.Enum], **kwargs: Any) -> Enum:
    """A VARCHAR holding the enum's *values*, the same on SQLite and PostgreSQL."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=20,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        **kwargs,
    )


def part_of(parent: str) -> MappedColumn[Any]:
    """The key of a row that is part of a parent row (``"seminars.id"``): indexed, and deleted
    with its parent by the database."""
    return mapped_column(ForeignKey(parent, ondelete="CASCADE"), index=True)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


def assign(obj: Any, values: dict[str, Any]) -> set[str]:
    """Set only the attributes that differ and return their names, so timestamps and calendar
    SEQUENCE numbers move only with real changes."""
    changed = set()
    for name, value in values.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed.add(name)
    return changed
