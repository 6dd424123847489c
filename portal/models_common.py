"""Small helpers for declaring columns consistently across domains."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import Enum
from sqlalchemy.orm import Mapped, mapped_column

from portal.types import UTCDateTime, utcnow


def enum_column(enum_cls: type[enum.Enum], **kwargs) -> Enum:
    """A VARCHAR holding the enum's *values*, the same on SQLite and PostgreSQL."""
    return Enum(
        enum_cls,
        native_enum=False,
        length=20,
        values_callable=lambda e: [m.value for m in e],
        validate_strings=True,
        **kwargs,
    )


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
