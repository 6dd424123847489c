"""The personal feed's token: the secret in an account's calendar URL.

The token belongs to the account; the calendar keeps the code that issues and looks it up,
since only the personal feed reads it. Regenerating it ends the old URL at once (404).
"""

from __future__ import annotations

from sqlalchemy import select

from portal.accounts.models import User, new_calendar_token
from portal.core.db import db


def regenerate_token(user: User) -> str:
    """A new personal feed URL; the old one answers 404 from now on."""
    user.calendar_token = new_calendar_token()
    return user.calendar_token


def user_for_token(token: str) -> User | None:
    user = db.session.scalar(select(User).where(User.calendar_token == token))
    return user if user is not None and user.is_active else None
