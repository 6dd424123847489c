"""Organizations (会員・オブザーバー団体) and their accounts."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import cast

from sqlalchemy import JSON, BigInteger, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from portal.core.db import Model, UTCDateTime, enum_column, part_of, utcnow


class OrganizationKind(enum.StrEnum):
    MUNICIPALITY = "municipality"  # 自治体
    MINISTRY = "ministry"  # 府省庁
    COMPANY = "company"  # 企業
    UNIVERSITY = "university"  # 大学・研究機関
    OTHER = "other"  # その他


class Membership(enum.StrEnum):
    MEMBER = "member"  # 会員
    OBSERVER = "observer"  # オブザーバー


class Role(enum.StrEnum):
    SECRETARIAT = "secretariat"  # 事務局
    MEMBER = "member"  # 会員
    OBSERVER = "observer"  # オブザーバー


class AccountState(enum.StrEnum):
    PENDING = "pending"  # 承認待ち
    ACTIVE = "active"
    REJECTED = "rejected"
    DEACTIVATED = "deactivated"


class Organization(Model):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[OrganizationKind] = mapped_column(enum_column(OrganizationKind))
    membership: Mapped[Membership] = mapped_column(enum_column(Membership))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    users: Mapped[list[User]] = relationship(back_populates="organization")


def new_calendar_token() -> str:
    return secrets.token_urlsafe(32)


class User(Model):
    """An account. Flask-Login's user object."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_column(Role))
    state: Mapped[AccountState] = mapped_column(enum_column(AccountState))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    calendar_token: Mapped[str] = mapped_column(String(64), unique=True, default=new_calendar_token)
    # Reminders in the personal feed (VALARM triggers, e.g. "P1D PT30M"); when they last changed,
    # so the feed's validators move with them.
    calendar_alarms: Mapped[str | None] = mapped_column(String(60))
    calendar_alarms_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # approval or rejection
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 棚卸し
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    password_changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped whenever sessions end (see operations.end_sessions): a half-done log-in (password
    # checked, second factor pending) started before it cannot finish.
    session_version: Mapped[int] = mapped_column(default=0)
    totp_secret: Mapped[str | None] = mapped_column(String(64))  # set once enrolment is confirmed
    # The last TOTP time step accepted (enrolment or log-in): a code works once, never replayed.
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    recovery_codes: Mapped[list[str] | None] = mapped_column(JSON)  # hashes of unused codes
    deletion_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    anonymized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    organization: Mapped[Organization | None] = relationship(back_populates="users")

    # Flask-Login protocol
    @property
    def is_active(self) -> bool:
        return self.state is AccountState.ACTIVE

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        # What Flask-Login keeps in the cookie; the loader also needs the cookie's session id
        # (authentication.session_user), whose record logout and end_sessions delete.
        return f"{self.id}:{self.session_version}"

    @property
    def is_secretariat(self) -> bool:
        """The role only; what the secretariat may do is accounts.access.is_secretariat (the role
        and, where required, a session that passed the second factor)."""
        return self.role is Role.SECRETARIAT

    # Not a column: set by the session loader (authentication.session_user) from this request's
    # session record. An account loaded any other way has not passed a second factor.
    session_second_factor = False
    session_ends = cast("datetime | None", None)  # when this request's session reaches its absolute lifetime


class UserSession(Model):
    """One log-in, server-side: the cookie carries a random id, this row its hash. Logout deletes
    the row, end_sessions deletes an account's rows; a cookie whose row is gone (or older than
    SESSION_ABSOLUTE_LIFETIME_SECONDS) is logged out, however validly signed."""

    __tablename__ = "user_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = part_of("users.id")
    # Only the start: the idle limit is the cookie's signed timestamp (PERMANENT_SESSION_LIFETIME),
    # so requests never write here.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # When this session passed the second factor (a code at /login/2fa, or at enrolment); None:
    # the password only, which gives no secretariat power where the factor is required.
    second_factor_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class PasswordResetToken(Model):
    """A mailed reset link: only its hash is stored; it expires and works once."""

    __tablename__ = "password_reset_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = part_of("users.id")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship()


class EnrolmentToken(Model):
    """A mailed link that lets a secretariat account enrol its first authenticator: the password
    alone is not enough. Only its hash is stored; it expires soon and works once."""

    __tablename__ = "enrolment_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = part_of("users.id")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
