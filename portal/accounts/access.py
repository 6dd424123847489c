"""Who an account is, for every domain's rules: the secretariat, or an approved participant."""

from __future__ import annotations

from typing import Any

from portal.accounts.models import Role


def is_secretariat(user: Any) -> bool:
    return bool(user.is_authenticated and user.is_active and user.role is Role.SECRETARIAT)


def is_participant(user: Any) -> bool:
    """An approved member or observer account (or the secretariat)."""
    return bool(user.is_authenticated and user.is_active)


def is_member(user: Any) -> bool:
    """A participant that acts for a member organization: observers read, but do not join or propose."""
    return is_participant(user) and user.role is not Role.OBSERVER
