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
    # The rule is materials.access.may_download; still asked by name by the subcommittee page.
    "download_material": lambda user, material=None: material is not None and _may_download(user, material),
}


def _may_download(user: Any, material: Any) -> bool:
    from portal.materials.access import may_download

    return may_download(user, material)




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
