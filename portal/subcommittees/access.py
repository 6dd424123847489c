"""Who may do what with a subcommittee: the one place these rules live.

Views load and check through ``portal.web.access`` with these answers and hand templates the
resulting flags; operations trust their caller on who acts (they check states, not people).
Every rule is a function of the acting account (possibly a visitor) and the subcommittee.
"""

from __future__ import annotations

from typing import Any

from portal.accounts.access import is_member as acts_for_a_member
from portal.accounts.access import is_participant, is_secretariat
from portal.subcommittees import queries
from portal.subcommittees.models import MembershipState, Subcommittee, SubcommitteeStatus


def may_see(user: Any, sub: Subcommittee) -> bool:
    """Active subcommittees are public; a proposal (or a rejected or closed one) is not found
    for anyone but the secretariat, its proposer included (they follow it on their dashboard)."""
    return sub.status is SubcommitteeStatus.ACTIVE or is_secretariat(user)


def is_member(user: Any, sub: Subcommittee) -> bool:
    """An approved member (leads included): sees the sessions' online links."""
    if not is_participant(user):
        return False
    membership = queries.membership_of(sub, user)
    return membership is not None and membership.state is MembershipState.APPROVED


def is_lead(user: Any, sub: Subcommittee) -> bool:
    """An approved member appointed lead."""
    if not is_participant(user):
        return False
    membership = queries.membership_of(sub, user)
    return membership is not None and membership.state is MembershipState.APPROVED and membership.is_lead


def may_lead(user: Any, sub: Subcommittee) -> bool:
    """Leads run their subcommittee (members, sessions, milestones, materials); so may the secretariat."""
    return is_secretariat(user) or is_lead(user, sub)


def see_members(user: Any, sub: Subcommittee) -> bool:
    """Members see each other (and members-only materials); so does the secretariat."""
    return is_secretariat(user) or is_member(user, sub)


def may_propose(user: Any) -> bool:
    """Member organizations propose subcommittees; observers read, but do not propose."""
    return acts_for_a_member(user)


def may_join(user: Any, sub: Subcommittee) -> bool:
    """Member organizations ask to join; observers read, but do not join."""
    return acts_for_a_member(user)


def is_proposer(user: Any, sub: Subcommittee) -> bool:
    """A proposal is its proposer's own: nobody else may even find it to revise."""
    return bool(is_participant(user) and sub.proposed_by_id is not None and sub.proposed_by_id == user.id)
