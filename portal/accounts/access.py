"""Who an account is, for every domain's rules: the secretariat, or an approved participant."""

from __future__ import annotations

from typing import Any

from flask import current_app, has_app_context

from portal.accounts.models import Role


def second_factor_required(user: Any) -> bool:
    """The secretariat's accounts hold everyone's data (都市OS①-3): where the setting asks for it,
    their powers need a session that passed the second factor, not the password alone."""
    return bool(user.role is Role.SECRETARIAT and has_app_context()
                and current_app.config.get("TOTP_REQUIRED_FOR_SECRETARIAT"))


def lacks_second_factor(user: Any) -> bool:
    """An active secretariat account whose session has not passed a required second factor."""
    return bool(user.is_authenticated and user.is_active and second_factor_required(user)
                and not user.session_second_factor)


def is_secretariat(user: Any) -> bool:
    """The secretariat's role, in a session that passed the second factor where it is required:
    the one check behind the back office, drafts, anonymous askers, leads' powers and
    members-only files, so a password alone opens none of them."""
    return bool(user.is_authenticated and user.is_active and user.role is Role.SECRETARIAT
                and not lacks_second_factor(user))


def is_participant(user: Any) -> bool:
    """An approved member or observer account (or the secretariat)."""
    return bool(user.is_authenticated and user.is_active)


def is_member(user: Any) -> bool:
    """A participant that acts for a member organization: observers read, but do not join or propose."""
    return is_participant(user) and user.role is not Role.OBSERVER
