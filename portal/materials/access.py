"""Who may know of and download a material (資料)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from portal.accounts.access import is_participant
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
        from portal.subcommittees.access import see_members  # subcommittees build on materials
        from portal.subcommittees.models import Subcommittee

        sub = db.session.get(Subcommittee, material.subcommittee_id)
        return sub is not None and see_members(user, sub)
    return is_participant(user)


def downloadable(user: Any, materials: Iterable[Material]) -> set[int]:
    """``may_download`` for a page's list of files: a subcommittee's members-only files share one
    answer, so its membership is asked once per subcommittee, not once per file."""
    per_subcommittee: dict[int, bool] = {}
    allowed = set()
    for material in materials:
        if material.public or material.subcommittee_id is None:
            ok = may_download(user, material)
        else:
            if material.subcommittee_id not in per_subcommittee:
                per_subcommittee[material.subcommittee_id] = may_download(user, material)
            ok = per_subcommittee[material.subcommittee_id]
        if ok:
            allowed.add(material.id)
    return allowed
