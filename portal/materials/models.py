"""Materials (資料): files attached to a seminar, a program item or a subcommittee."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from portal.core.db import Model, UTCDateTime, part_of, utcnow


class Material(Model):
    __tablename__ = "materials"

    id: Mapped[int] = mapped_column(primary_key=True)
    seminar_id: Mapped[int | None] = part_of("seminars.id")
    program_item_id: Mapped[int | None] = mapped_column(ForeignKey("program_items.id", ondelete="SET NULL"))
    subcommittee_id: Mapped[int | None] = part_of("subcommittees.id")
    title: Mapped[str] = mapped_column(String(300))
    filename: Mapped[str] = mapped_column(String(255))  # as uploaded, for the download name
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)  # random; never user input
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int]
    public: Mapped[bool] = mapped_column(default=False)  # False: members and observers only
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
