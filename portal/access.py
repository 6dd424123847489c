"""Who may do what: the one place access rules live.

Views load their object with ``get_or_404`` and check with ``require``; templates ask ``can``.
"""

from __future__ import annotations

from typing import Any

from flask import abort
from flask_login import current_user

from portal.accounts.models import Role
from portal.core.db import db


def _user(user: Any = None) -> Any:
    return current_user if user is None else user


def is_secretariat(user: Any = None) -> bool:
    user = _user(user)
    return bool(user.is_authenticated and user.is_active and user.role is Role.SECRETARIAT)


def is_participant(user: Any = None) -> bool:
    """An approved member or observer account (or the secretariat)."""
    user = _user(user)
    return bool(user.is_authenticated and user.is_active)


# The rules by name, so templates and views ask the same question.
RULES = {
    "manage_seminar": lambda user, seminar=None: is_secretariat(user),
    "view_draft": lambda user, obj=None: is_secretariat(user),
    "register": lambda user, seminar=None: is_participant(user),
    # Subcommittees: leads (and the secretariat) run them; members see each other.
    "lead_subcommittee": lambda user, sub=None: is_secretariat(user) or _sub_rule("is_lead", sub, user),
    "see_subcommittee_members": lambda user, sub=None: is_secretariat(user) or _sub_rule("is_member", sub, user),
    "propose_subcommittee": lambda user, obj=None: is_participant(user) and user.role is not Role.OBSERVER,
    "join_subcommittee": lambda user, sub=None: is_participant(user) and user.role is not Role.OBSERVER,
    # Q&A: the seminar's registered attendees and the secretariat.
    "take_part_in_qa": lambda user, seminar=None: is_secretariat(user) or _is_attendee(seminar, user),
    "download_material": lambda user, material=None: _may_download(material, user),
}


def _may_download(material: Any, user: Any) -> bool:
    """Public files for everyone, members-only files for approved accounts (a draft seminar's
    files are not found at all for others: see materials.views)."""
    if material is None:
        return False
    if material.public:
        return True
    if material.subcommittee_id is not None:  # members-only: the subcommittee's members
        from portal.subcommittees.models import Subcommittee

        sub = db.session.get(Subcommittee, material.subcommittee_id)
        return is_secretariat(user) or _sub_rule("is_member", sub, user)
    return is_participant(user)


def _sub_rule(name: str, sub: Any, user: Any) -> bool:
    from portal.subcommittees import services

    return sub is not None and is_participant(user) and getattr(services, name)(sub, user)


def _is_attendee(seminar: Any, user: Any) -> bool:
    from portal.qa.services import is_attendee

    return seminar is not None and is_attendee(seminar, user)


def can(action: str, obj: Any = None, user: Any = None) -> bool:
    return RULES[action](_user(user), obj)


def require(action: str, obj: Any = None) -> None:
    """403 for a logged-in account without the right; log-in redirect for visitors."""
    if can(action, obj):
        return
    if not current_user.is_authenticated:
        from portal.extensions import login_manager

        abort(login_manager.unauthorized())
    abort(403)


def get_or_404(model: type, ident: Any) -> Any:
    obj = db.session.get(model, ident)
    if obj is None:
        abort(404)
    return obj
