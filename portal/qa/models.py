"""Q&A (質疑応答): questions asked during a seminar, their votes and their routing."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Text, UniqueConstraint, event
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import Model, UTCDateTime, enum_column, part_of, utcnow

BODY_MAX = 1000  # characters a question may hold


class QuestionState(enum.StrEnum):
    OPEN = "open"  # asked, not yet answered
    ANSWERED_LIVE = "answered_live"  # answered during the seminar
    HIDDEN = "hidden"  # hidden by the secretariat (the asker is told)


class Question(Model):
    __tablename__ = "questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    seminar_id: Mapped[int] = part_of("seminars.id")
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    program_item_id: Mapped[int | None] = mapped_column(ForeignKey("program_items.id", ondelete="SET NULL"))
    body: Mapped[str] = mapped_column(Text)
    anonymous: Mapped[bool] = mapped_column(default=False)  # hidden from attendees, never from the secretariat
    followup: Mapped[bool] = mapped_column(default=False)  # sent after Q&A closed, routed on its own
    state: Mapped[QuestionState] = mapped_column(enum_column(QuestionState), default=QuestionState.OPEN)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_live_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    hidden_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Set in the same transaction as the outbox message that carries the question to the
    # secretariat mailbox: a question is routed at most once, and never lost.
    routed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    routed_message_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    faq_published: Mapped[bool] = mapped_column(default=False)
    # Approve-before-shown: a question asked while the seminar holds new questions back stays
    # off the shared list (its asker sees 承認待ち) until the secretariat approves it.
    pending: Mapped[bool] = mapped_column(default=False)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The moderator's "being answered now" mark: the open question with the latest mark is
    # pinned as 回答中 for everyone.
    answering_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Its up-votes, counted by the database (VOTE_COUNTER) as votes come and go, so the live list
    # of 1,200 questions reads a column instead of counting 12,000 votes on every rebuild, and a
    # vote written around the ORM is counted too. Read it from the database after a vote: the
    # session's copy does not see the trigger's update.
    vote_count: Mapped[int] = mapped_column(default=0, server_default="0")

    seminar = relationship("Seminar")
    author = relationship("User", foreign_keys=[author_id])
    program_item = relationship("ProgramItem")


class QuestionVote(Model):
    """One up-vote per account and question (the unique constraint makes it so)."""

    __tablename__ = "question_votes"
    __table_args__ = (UniqueConstraint("question_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    question_id: Mapped[int] = part_of("questions.id")
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


# The trigger that keeps ``Question.vote_count``; the migration that added it holds its own copy.
VOTE_COUNTER = {
    "postgresql": """
CREATE OR REPLACE FUNCTION portal_count_votes() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'DELETE' THEN
        UPDATE questions SET vote_count = vote_count + 1 WHERE id = NEW.question_id;
    END IF;
    IF TG_OP <> 'INSERT' THEN
        UPDATE questions SET vote_count = vote_count - 1 WHERE id = OLD.question_id;
    END IF;
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS portal_count_votes ON question_votes;
CREATE TRIGGER portal_count_votes AFTER INSERT OR DELETE OR UPDATE OF question_id ON question_votes
    FOR EACH ROW EXECUTE FUNCTION portal_count_votes();
""",
    "sqlite": [
        """CREATE TRIGGER IF NOT EXISTS portal_count_votes_insert AFTER INSERT ON question_votes BEGIN
    UPDATE questions SET vote_count = vote_count + 1 WHERE id = NEW.question_id;
END""",
        """CREATE TRIGGER IF NOT EXISTS portal_count_votes_delete AFTER DELETE ON question_votes BEGIN
    UPDATE questions SET vote_count = vote_count - 1 WHERE id = OLD.question_id;
END""",
        """CREATE TRIGGER IF NOT EXISTS portal_count_votes_update AFTER UPDATE OF question_id ON question_votes BEGIN
    UPDATE questions SET vote_count = vote_count - 1 WHERE id = OLD.question_id;
    UPDATE questions SET vote_count = vote_count + 1 WHERE id = NEW.question_id;
END""",
    ],
}


@event.listens_for(QuestionVote.__table__, "after_create")
def _count_votes(table, conn: Connection, **kw) -> None:
    """Tables made from the models (tests, ``make run``'s first start) get the trigger too."""
    statements = VOTE_COUNTER.get(conn.dialect.name, [])
    for statement in [statements] if isinstance(statements, str) else statements:
        conn.exec_driver_sql(statement)
