"""Who may see and do what with a seminar: the rules, once, for every view, feed and download.

``is_visible`` takes the seminar first: it is the ``visible=`` rule of ``web.access.get_or_404``,
so every loader (the page, the registration buttons, the .ics, Q&A, a material's download)
gives the same answer.
"""

from __future__ import annotations

from typing import Any

from portal.accounts.access import is_participant, is_secretariat
from portal.seminars.models import Seminar, SeminarStatus


def sees_drafts(user: Any) -> bool:
    """Drafts exist only for the secretariat (the schedule, the pages, the feeds)."""
    return is_secretariat(user)


def is_visible(seminar: Seminar, user: Any) -> bool:
    """A draft is 404 to everyone but the secretariat; published and cancelled ones are public."""
    return seminar.status is not SeminarStatus.DRAFT or sees_drafts(user)


def may_register(user: Any, seminar: Seminar) -> bool:
    """Approved accounts register (whether registration is open now is ``registration_problem``)."""
    return is_participant(user)
