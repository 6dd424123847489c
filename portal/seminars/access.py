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


def has_feed(seminar: Seminar, user: Any) -> bool:
    """Its own .ics answers: while it is in the feeds, and for good once it has been, so a
    subscriber whose seminar left them (unpublished, undecided) is told to drop it, not 404."""
    return (is_visible(seminar, user) and seminar.window is not None) or seminar.public_since is not None


def sees_join_link(user: Any, seminar: Seminar) -> bool:
    """The join link, at any time, only to an account registered (not waiting) for it."""
    from portal.seminars.models import RegistrationState
    from portal.seminars.queries import registration_of

    registration = registration_of(seminar, user) if getattr(user, "is_authenticated", False) else None
    return registration is not None and registration.state is RegistrationState.REGISTERED


def may_register(user: Any, seminar: Seminar) -> bool:
    """Approved accounts register (whether registration is open now is ``registration_problem``)."""
    return is_participant(user)
