"""Who may know of and download a material (資料)."""

from __future__ import annotations

from typing import Any

from portal.accounts.access import is_participant, is_secretariat
from portal.core.db import db
from portal.materials.models import Material
from portal.seminars import access as seminar_access
from portal.seminars.models import Seminar


def is_visible(material: Material, user: Any) -> bool:
    """A draft seminar's files do not exist for others: the seminar's own rule decides (the
    ``visible=`` rule of ``web.access.get_or_404``, material first)."""
    seminar = db.session.get(Seminar, material.seminar_id) if material.seminar_id else None
    return seminar is None or seminar_access.is_visible(seminar, user)


def may_download(user: Any, material: Material) -> bool:
    """Public files for everyone; members-only files for approved accounts, and a subcommittee's
    for its members (and the secretariat)."""
    if material.public:
        return True
    if material.subcommittee_id is not None:
        from portal.subcommittees.models import Subcommittee
        from portal.subcommittees.services import is_member  # subcommittees build on materials

        sub = db.session.get(Subcommittee, material.subcommittee_id)
        return is_secretariat(user) or (sub is not None and is_participant(user) and is_member(sub, user))
    return is_participant(user)
