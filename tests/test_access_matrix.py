"""The role × route access matrix, and IDOR checks, through HTTP on a real database.

For EVERY route of the app (static files aside) and each role -- visitor, observer, member, lead of
another subcommittee, lead of this subcommittee, secretariat, and a deactivated account (logged in,
then deactivated in the database) -- the status of a GET and, for POST routes, of a POST with a
valid CSRF token and no other data is written down in ``MATRIX`` below. A route that is not in the
matrix fails ``test_every_route_is_in_the_matrix``: a new route must say who may use it.

Rules checked on every request (DESIGN.md, Contract):

- never a 500;
- a refused request -- 302 to /login, 403, 404, 405, or 400 without a CSRF token -- changes no
  record (a snapshot of every table before and after; audit_events is left out,
  as it legitimately grows);
- a GET changes no record, whoever sends it;
- a method a route does not have answers 405; a POST without a CSRF token answers 400.

The IDOR tests then change ids and tokens by hand: another person's registration, an anonymous
question's author, another account's calendar feed, someone else's subcommittee proposal, a draft
seminar's materials, a members-only subcommittee file, and objects of another subcommittee reached
through one's own subcommittee's URLs.
"""

from __future__ import annotations

import functools
import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

import pytest
from conftest import DEFAULT_PASSWORD, AuthActions, csrf_token
from sqlalchemy import select
from werkzeug.security import generate_password_hash

from portal.accounts.models import AccountState, Membership, OrganizationKind, Role, User, new_calendar_token
from portal.accounts.operations import find_or_create_organization
from portal.core.dates import fiscal_year, today_local
from portal.core.db import db
from portal.imports.operations import import_data
from portal.mail.models import OutboxMessage
from portal.materials import storage
from portal.materials.models import Material
from portal.qa import operations as qa_operations
from portal.qa.models import Question
from portal.seminars import operations, registrations
from portal.seminars.models import ProgramItem, Registration, RegistrationState, Seminar
from portal.subcommittees.models import (
    MembershipState,
    Subcommittee,
    SubcommitteeMember,
    SubcommitteeSession,
    SubcommitteeStatus,
)

SERIES = "官民連携プラットフォーム オンラインセミナー"
PDF = b"%PDF-1.4\n1 0 obj\n<< /Type /Catalog >>\nendobj\ntrailer\n<< /Root 1 0 R >>\n%%EOF\n"

# Tables that legitimately grow on refused requests (failed log-ins, refusals are audited).
# change_versions: HTTP validators' counters; on SQLite an UPDATE that changes nothing (the
# registration lock) moves one, which makes caches revalidate and changes no one's data.
UNTRACKED_TABLES = {"audit_events", "change_versions"}

ROLES = ("visitor", "observer", "member", "other_lead", "lead", "secretariat", "deactivated")
LOGIN = "login"  # 302 to the log-in page


def R(visitor, observer, member, other_lead, lead, secretariat, deactivated) -> dict[str, Any]:
    """One row of the matrix: the expected status for each role, in ROLES order."""
    return dict(zip(ROLES, (visitor, observer, member, other_lead, lead, secretariat, deactivated), strict=True))


# Expected outcome per route rule, method and role. LOGIN: 302 to /login.
#                                                              vis.   obs.   member other  lead   secr.  deact.
MATRIX: dict[str, dict[str, dict[str, Any]]] = {
    # Public pages and feeds
    "/":                                            {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    "/healthz":                                     {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    "/privacy":                                     {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    "/terms":                                       {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    "/accessibility":                               {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    "/contact":                                     {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    "/sitemap":                                     {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    "/language/<lang>":                             {"GET":  R(302,   302,   302,   302,   302,   302,   302)},
    "/api/v1/seminars":                             {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    "/seminars":                                    {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    "/seminars/<int:seminar_id>":                   {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    "/seminars/<int:seminar_id>.ics":               {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    "/calendar.ics":                                {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    # a seminar the member is registered for: its .ics with the join link, to them only
    "/seminars/<int:seminar_id>/my-calendar.ics":   {"GET":  R(LOGIN, 403,   200,   403,   403,   403,   LOGIN)},
    # the member's own token: a feed is reached by its token alone
    "/calendar/<token>.ics":                        {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    "/subcommittees":                               {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    "/subcommittees/<slug>":                        {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    "/subcommittees/<slug>/calendar.ics":           {"GET":  R(200,   200,   200,   200,   200,   200,   200)},
    # a members-only file of net-zero
    "/materials/<int:material_id>":                 {"GET":  R(LOGIN, 403,   403,   403,   200,   200,   LOGIN)},

    # Accounts
    "/login":                                       {"GET":  R(200,   200,   200,   200,   200,   200,   200),
                                                     "POST": R(422,   422,   422,   422,   422,   422,   422)},
    "/login/2fa":                                   {"GET":  R(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN),
                                                     "POST": R(LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN, LOGIN)},
    "/logout":                                      {"POST": R(302,   302,   302,   302,   302,   302,   302)},
    "/signup":                                      {"GET":  R(200,   200,   200,   200,   200,   200,   200),
                                                     "POST": R(422,   422,   422,   422,   422,   422,   422)},
    # An empty form is re-rendered with field errors.
    "/password-reset":                              {"GET":  R(200,   200,   200,   200,   200,   200,   200),
                                                     "POST": R(422,   422,   422,   422,   422,   422,   422)},
    # a guessed token
    "/password-reset/<token>":                      {"GET":  R(404,   404,   404,   404,   404,   404,   404),
                                                     "POST": R(404,   404,   404,   404,   404,   404,   404)},
    "/account":                                     {"GET":  R(LOGIN, 200,   200,   200,   200,   200,   LOGIN)},
    # the secretariat enrols its first authenticator only through a mailed link (issue 12)
    "/account/2fa":                                 {"GET":  R(LOGIN, 200,   200,   200,   200,   200,   LOGIN),
                                                     "POST": R(LOGIN, 422,   422,   422,   422,   403,   LOGIN)},
    "/account/2fa/link":                            {"POST": R(LOGIN, 302,   302,   302,   302,   302,   LOGIN)},
    # a guessed enrolment link
    "/account/2fa/enrol/<token>":                   {"GET":  R(LOGIN, 404,   404,   404,   404,   404,   LOGIN)},
    # an empty form is re-rendered with field errors
    "/account/password":                            {"GET":  R(LOGIN, 200,   200,   200,   200,   200,   LOGIN),
                                                     "POST": R(LOGIN, 422,   422,   422,   422,   422,   LOGIN)},
    "/account/calendar-token":                      {"POST": R(LOGIN, 302,   302,   302,   302,   302,   LOGIN)},
    "/account/calendar-reminders":                  {"POST": R(LOGIN, 302,   302,   302,   302,   302,   LOGIN)},
    "/account/announcements":                       {"POST": R(LOGIN, 302,   302,   302,   302,   302,   LOGIN)},
    # A wrong unsubscribe token names nobody (the right one is tested in tests/announcements).
    "/announcements/unsubscribe/<token>":           {"GET":  R(404,   404,   404,   404,   404,   404,   404),
                                                     "POST": R(404,   404,   404,   404,   404,   404,   404)},
    "/account/data.json":                           {"GET":  R(LOGIN, 200,   200,   200,   200,   200,   LOGIN)},
    "/account/deletion-request":                    {"POST": R(LOGIN, 302,   302,   302,   302,   302,   LOGIN)},
    "/account/logout-everywhere":                   {"POST": R(LOGIN, 302,   302,   302,   302,   302,   LOGIN)},
    "/account/seminars":                            {"GET":  R(LOGIN, 200,   200,   200,   200,   200,   LOGIN)},
    "/account/subcommittees":                       {"GET":  R(LOGIN, 200,   200,   200,   200,   200,   LOGIN)},

    # Seminars (an upcoming seminar with registration open) and Q&A (the member is its attendee)
    "/seminars/<int:seminar_id>/registration":      {"POST": R(LOGIN, 302,   302,   302,   302,   302,   LOGIN)},
    # GET: the confirmation step (each account is registered by the POST above)
    "/seminars/<int:seminar_id>/registration/cancel": {"GET": R(LOGIN, 200,   200,   200,   200,   200,   LOGIN),
                                                       "POST": R(LOGIN, 302,  302,   302,   302,   302,   LOGIN)},
    "/seminars/<int:seminar_id>/questions":         {"GET":  R(LOGIN, 403,   200,   403,   403,   200,   LOGIN),
                                                     "POST": R(LOGIN, 403,   422,   403,   403,   422,   LOGIN)},
    "/questions/<int:question_id>/vote":            {"POST": R(LOGIN, 403,   302,   403,   403,   302,   LOGIN)},
    "/seminars/<int:seminar_id>/questions/presenter": {"GET": R(LOGIN, 403,  200,   403,   403,   200,   LOGIN)},

    # Subcommittees (net-zero; "lead" leads it, "other_lead" leads another one)
    "/subcommittees/<slug>/join":                   {"POST": R(LOGIN, 403,   302,   302,   302,   302,   LOGIN)},
    "/subcommittees/<slug>/leave":                  {"POST": R(LOGIN, 302,   302,   302,   302,   302,   LOGIN)},
    "/subcommittees/<slug>/materials":              {"POST": R(LOGIN, 403,   403,   403,   302,   302,   LOGIN)},
    "/subcommittees/<slug>/materials/<int:material_id>/delete":
                                                    {"GET":  R(LOGIN, 403,   403,   403,   200,   200,   LOGIN),
                                                     "POST": R(LOGIN, 403,   403,   403,   302,   302,   LOGIN)},
    "/subcommittees/<slug>/members/<int:member_id>/<action>":
                                                    {"POST": R(LOGIN, 403,   403,   403,   302,   302,   LOGIN)},
    "/subcommittees/<slug>/milestones":             {"POST": R(LOGIN, 403,   403,   403,   302,   302,   LOGIN)},
    "/subcommittees/<slug>/milestones/<int:milestone_id>/done":
                                                    {"POST": R(LOGIN, 403,   403,   403,   302,   302,   LOGIN)},
    "/subcommittees/<slug>/milestones/<int:milestone_id>/undone":
                                                    {"POST": R(LOGIN, 403,   403,   403,   302,   302,   LOGIN)},
    "/subcommittees/<slug>/sessions":               {"POST": R(LOGIN, 403,   403,   403,   302,   302,   LOGIN)},
    "/subcommittees/<slug>/sessions/<int:session_id>":
                                                    {"GET":  R(LOGIN, 403,   403,   403,   200,   200,   LOGIN),
                                                     "POST": R(LOGIN, 403,   403,   403,   422,   422,   LOGIN)},
    "/subcommittees/propose":                       {"GET":  R(LOGIN, 403,   200,   200,   200,   200,   LOGIN),
                                                     "POST": R(LOGIN, 403,   422,   422,   422,   422,   LOGIN)},
    # the member's own proposal
    "/subcommittees/proposals/<int:sub_id>/edit":   {"GET":  R(LOGIN, 404,   200,   404,   404,   404,   LOGIN),
                                                     "POST": R(LOGIN, 404,   422,   404,   404,   404,   LOGIN)},

    # Back office
    "/secretariat/":                                {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN)},
    "/secretariat/accounts":                        {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN)},
    "/secretariat/accounts/<int:user_id>/anonymize": {"GET": R(LOGIN, 403,   403,   403,   403,   200,   LOGIN),
                                                      "POST": R(LOGIN, 403,  403,   403,   403,   302,   LOGIN)},
    "/secretariat/accounts/<int:user_id>/approve":  {"POST": R(LOGIN, 403,   403,   403,   403,   400,   LOGIN)},
    "/secretariat/accounts/<int:user_id>/reject":   {"POST": R(LOGIN, 403,   403,   403,   403,   302,   LOGIN)},
    "/secretariat/accounts/<int:user_id>/role":     {"POST": R(LOGIN, 403,   403,   403,   403,   400,   LOGIN)},
    "/secretariat/accounts/<int:user_id>/state":    {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN),
                                                     "POST": R(LOGIN, 403,   403,   403,   403,   400,   LOGIN)},
    "/secretariat/audit":                           {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN)},
    "/secretariat/audit.csv":                       {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN)},
    "/secretariat/inventory":                       {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN)},
    "/secretariat/inventory.csv":                   {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN)},
    "/secretariat/inventory/review":                {"POST": R(LOGIN, 403,   403,   403,   403,   302,   LOGIN)},
    "/secretariat/materials/<int:material_id>/delete": {"GET": R(LOGIN, 403,  403,  403,   403,   200,   LOGIN),
                                                        "POST": R(LOGIN, 403, 403,  403,   403,   302,   LOGIN)},
    "/secretariat/outbox":                          {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN)},
    "/secretariat/outbox/<int:message_id>":         {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN)},
    "/secretariat/outbox/<int:message_id>/retry":   {"POST": R(LOGIN, 403,   403,   403,   403,   302,   LOGIN)},
    "/secretariat/program/<int:item_id>/delete":    {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN),
                                                     "POST": R(LOGIN, 403,   403,   403,   403,   302,   LOGIN)},
    "/secretariat/program/<int:item_id>/edit":      {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN),
                                                     "POST": R(LOGIN, 403,   403,   403,   403,   422,   LOGIN)},
    "/secretariat/program/<int:item_id>/move":      {"POST": R(LOGIN, 403,   403,   403,   403,   302,   LOGIN)},
    "/secretariat/questions/<int:question_id>/answer": {"POST": R(LOGIN, 403, 403,  403,   403,   302,   LOGIN)},
    "/secretariat/questions/<int:question_id>/answered": {"POST": R(LOGIN, 403, 403, 403,  403,   302,   LOGIN)},
    "/secretariat/questions/<int:question_id>/hide": {"POST": R(LOGIN, 403,  403,   403,   403,   302,   LOGIN)},
    "/secretariat/questions/<int:question_id>/answering": {"POST": R(LOGIN, 403, 403, 403, 403,  302,   LOGIN)},
    "/secretariat/questions/<int:question_id>/approve": {"POST": R(LOGIN, 403, 403,  403,   403,   302,   LOGIN)},
    "/secretariat/seminars":                        {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN)},
    "/secretariat/seminars/new":                    {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN),
                                                     "POST": R(LOGIN, 403,   403,   403,   403,   422,   LOGIN)},
    "/secretariat/seminars/<int:seminar_id>":       {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN)},
    "/secretariat/seminars/<int:seminar_id>/edit":  {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN),
                                                     "POST": R(LOGIN, 403,   403,   403,   403,   422,   LOGIN)},
    "/secretariat/seminars/<int:seminar_id>/announcement": {"GET": R(LOGIN, 403, 403, 403, 403, 200,   LOGIN),
                                                     "POST": R(LOGIN, 403,   403,   403,   403,   422,   LOGIN)},
    "/secretariat/seminars/<int:seminar_id>/mail":  {"POST": R(LOGIN, 403,   403,   403,   403,   302,   LOGIN)},
    # a past seminar: an empty 出席 list is saved (nobody present); an import without a file is refused
    "/secretariat/seminars/<int:seminar_id>/attendance": {"GET": R(LOGIN, 403, 403, 403,  403,   200,   LOGIN),
                                                     "POST": R(LOGIN, 403,   403,   403,   403,   302,   LOGIN)},
    "/secretariat/seminars/<int:seminar_id>/attendance/import": {"POST": R(LOGIN, 403, 403, 403, 403, 422, LOGIN)},
    "/secretariat/seminars/<int:seminar_id>/materials": {"POST": R(LOGIN, 403, 403, 403,   403,   302,   LOGIN)},
    "/secretariat/seminars/<int:seminar_id>/program": {"POST": R(LOGIN, 403,  403,   403,   403,   422,   LOGIN)},
    "/secretariat/seminars/<int:seminar_id>/qa/close": {"GET": R(LOGIN, 403,  403,  403,   403,   200,   LOGIN),
                                                        "POST": R(LOGIN, 403, 403,  403,   403,   302,   LOGIN)},
    "/secretariat/seminars/<int:seminar_id>/preview": {"GET": R(LOGIN, 403,  403,   403,   403,   200,   LOGIN)},
    "/secretariat/seminars/<int:seminar_id>/publish": {"POST": R(LOGIN, 403, 403,   403,   403,   302,   LOGIN)},
    "/secretariat/seminars/<int:seminar_id>/qa/open": {"POST": R(LOGIN, 403,  403,   403,   403,   302,   LOGIN)},
    "/secretariat/seminars/<int:seminar_id>/qa/approval": {"POST": R(LOGIN, 403, 403, 403,  403,   302,   LOGIN)},
    "/secretariat/seminars/<int:seminar_id>/questions": {"GET": R(LOGIN, 403, 403,  403,   403,   200,   LOGIN)},
    "/secretariat/seminars/<int:seminar_id>/questions.csv": {"GET": R(LOGIN, 403, 403, 403, 403,  200,   LOGIN)},
    "/secretariat/seminars/<int:seminar_id>/registrants.csv": {"GET": R(LOGIN, 403, 403, 403, 403, 200,  LOGIN)},
    "/secretariat/series/new":                      {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN),
                                                     "POST": R(LOGIN, 403,   403,   403,   403,   422,   LOGIN)},
    # an empty POST keeps the series' values (the form is bound to the series): saved unchanged
    "/secretariat/series/<int:series_id>/edit":     {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN),
                                                     "POST": R(LOGIN, 403,   403,   403,   403,   302,   LOGIN)},
    "/secretariat/series/<int:series_id>/generate": {"POST": R(LOGIN, 403,   403,   403,   403,   302,   LOGIN)},
    "/secretariat/subcommittees":                   {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN)},
    "/secretariat/subcommittees/requests":          {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN)},
    "/secretariat/subcommittees/requests/<int:member_id>/<any(approve, decline):action>":
                                                    {"POST": R(LOGIN, 403,   403,   403,   403,   302,   LOGIN)},
    "/secretariat/subcommittees/<int:sub_id>":      {"GET":  R(LOGIN, 403,   403,   403,   403,   200,   LOGIN),
                                                     "POST": R(LOGIN, 403,   403,   403,   403,   422,   LOGIN)},
}

# Routes whose POST ends the session: the role logs in again afterwards.
ENDS_SESSION = {"/logout", "/account/logout-everywhere"}


# ----------------------------------------------------------------------------- snapshots


def snapshot(app) -> dict[str, list[tuple]]:
    """Every row of every table (but the audit log and log-in throttles), ordered by key."""
    with app.app_context():
        out = {}
        for table in db.metadata.sorted_tables:
            if table.name in UNTRACKED_TABLES:
                continue
            rows = db.session.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(row) for row in rows]
        db.session.rollback()
        return out


def diff(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> str:
    """Which tables changed, and how (empty when nothing did)."""
    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, []), after.get(name, [])
        if old != new:
            added = [r for r in new if r not in old]
            removed = [r for r in old if r not in new]
            changes.append(f"{name}: {len(old)}→{len(new)} rows; +{added[:2]!r} -{removed[:2]!r}")
    return "; ".join(changes)


def is_login_redirect(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers.get("Location", "")).path == "/login"


# ----------------------------------------------------------------------------- the world


@functools.cache
def password_hash() -> str:
    return generate_password_hash(DEFAULT_PASSWORD)


def quick_user(app, role: str = "member", *, email: str, name: str | None = None, state: str = "active",
               org: str | None = "テスト市") -> Any:
    """An account like conftest's create_user, without hashing the password anew each time."""
    with app.app_context():
        organization = None
        if org:
            membership = Membership.OBSERVER if role == "observer" else Membership.MEMBER
            organization = find_or_create_organization(org, OrganizationKind.MUNICIPALITY, membership)
        user = User(email=email, name=name or f"テスト {email}", password_hash=password_hash(), role=Role(role),
                    state=AccountState(state), organization=organization, calendar_token=new_calendar_token())
        db.session.add(user)
        db.session.commit()
        db.session.refresh(user)
        db.session.expunge(user)
        return user


@dataclass
class World:
    """Demo data plus the accounts and objects the matrix needs, by id."""

    app: Any
    users: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    counter: int = 0

    def next(self) -> int:
        self.counter += 1
        return self.counter

    def token_of(self, role: str) -> str:
        with self.app.app_context():
            return db.session.get(User, self.users[role].id).calendar_token

    # Fresh objects for routes that delete or consume what they act on -----------------------

    def fresh_user(self, state: str = "pending") -> int:
        return quick_user(self.app, state=state, email=f"victim{self.next()}@example.org").id

    def fresh_program_item(self) -> int:
        with self.app.app_context():
            seminar = db.session.get(Seminar, self.ids["fy1"])
            item = operations.save_program_item(
                seminar, None, start_time=None, title=f"削除用の項目 {self.next()}", points=[], notes=[], presenters=[])
            db.session.commit()
            return item.id

    def fresh_material(self, **owner: int) -> int:
        with self.app.app_context():
            material = storage.save_material(
                io.BytesIO(PDF), f"資料{self.next()}.pdf", title="", public=False,
                uploaded_by_id=self.users["secretariat"].id, **owner)
            db.session.commit()
            return material.id

    def fresh_question(self) -> int:
        with self.app.app_context():
            question = Question(seminar_id=self.ids["upcoming"], author_id=self.users["member"].id,
                                body=f"質問 {self.next()}", anonymous=False)
            db.session.add(question)
            db.session.commit()
            return question.id

    def fresh_applicant(self) -> int:
        """A pending request to join net-zero."""
        user_id = self.fresh_user("active")
        with self.app.app_context():
            membership = SubcommitteeMember(subcommittee_id=self.ids["net_zero"], user_id=user_id,
                                            state=MembershipState.PENDING)
            db.session.add(membership)
            db.session.commit()
            return membership.id


def seminar_record(key: str, *, days_ahead: int = 21, status: str = "published", **extra: Any) -> dict[str, Any]:
    day = today_local() + timedelta(days=days_ahead)
    return {
        "key": key, "series": SERIES, "fiscal_year": fiscal_year(day), "number": 90 + len(key),
        "title": f"アクセス制御テスト {key}", "date": day.isoformat(), "start": "15:30", "end": "17:00",
        "status": status, "registration": "open", "qa": "closed",
        "join_url": f"https://example.org/webinar/{key}", **extra,
    }


def build_world(app) -> World:
    world = World(app)
    create_user = functools.partial(quick_user, app)
    users = world.users
    users["observer"] = create_user("observer", email="observer.acl@example.org")
    users["member"] = create_user("member", email="member.acl@example.org", name="会員 太郎")
    users["other_lead"] = create_user("member", email="other.lead@example.org")
    users["lead"] = create_user("member", email="lead.acl@example.org")
    users["secretariat"] = create_user("secretariat", email="secretariat.acl@example.org")
    users["deactivated"] = create_user("member", email="deactivated.acl@example.org")

    with app.app_context():
        import_data({
            "seminars": [seminar_record("acl-open"), seminar_record("acl-qa")],
            "subcommittees": [{"slug": "other-sub", "name": "別の分科会", "fiscal_year": 2021}],
        })
        db.session.commit()
        ids = world.ids
        by_key = {s.key: s for s in db.session.scalars(select(Seminar))}
        ids.update(fy1=by_key["fy2021-1"].id, upcoming=by_key["demo-upcoming"].id,
                   open=by_key["acl-open"].id, qa=by_key["acl-qa"].id, series=by_key["fy2021-1"].series_id)
        subs = {s.slug: s for s in db.session.scalars(select(Subcommittee))}
        net_zero, other = subs["net-zero"], subs["other-sub"]
        assert net_zero.status is SubcommitteeStatus.ACTIVE
        ids.update(net_zero=net_zero.id, other_sub=other.id,
                   session=net_zero.sessions[0].id, milestone=net_zero.milestones[0].id,
                   program_item=by_key["fy2021-1"].program[0].id)
        db.session.add_all([
            SubcommitteeMember(subcommittee_id=net_zero.id, user_id=users["lead"].id, is_lead=True,
                               state=MembershipState.APPROVED),
            SubcommitteeMember(subcommittee_id=other.id, user_id=users["other_lead"].id, is_lead=True,
                               state=MembershipState.APPROVED),
        ])
        # The member attends the upcoming demo seminar (Q&A open) and asked a question there.
        member = db.session.get(User, users["member"].id)
        registrations.register(ids["upcoming"], member)
        db.session.commit()
        upcoming = db.session.get(Seminar, ids["upcoming"])
        assert upcoming.qa_open
        question = qa_operations.ask(upcoming, member, "都市OSの導入費用はどの程度でしょうか。", anonymous=True)
        db.session.commit()
        ids["question"] = question.id
        # The member's own subcommittee proposal, waiting for review.
        proposal = Subcommittee(slug="member-proposal", name="会員の提案", fiscal_year=2021,
                                status=SubcommitteeStatus.PROPOSED, proposed_by_id=member.id,
                                purpose="目的", issues=["課題"], outcomes=["成果"], fields=["環境"])
        db.session.add(proposal)
        db.session.commit()
        ids["proposal"] = proposal.id
        ids["message"] = db.session.scalar(select(OutboxMessage.id).order_by(OutboxMessage.id))
    # A members-only file of net-zero.
    ids["sub_material"] = world.fresh_material(subcommittee_id=ids["net_zero"])
    return world


# How to fill each rule's parameters, per role (fresh objects where the request consumes them).
URLS: dict[str, Callable[[World, str], str]] = {
    "/language/<lang>": lambda w, r: "/language/ja",
    "/seminars/<int:seminar_id>": lambda w, r: f"/seminars/{w.ids['upcoming']}",
    "/seminars/<int:seminar_id>.ics": lambda w, r: f"/seminars/{w.ids['fy1']}.ics",
    "/seminars/<int:seminar_id>/my-calendar.ics": lambda w, r: f"/seminars/{w.ids['upcoming']}/my-calendar.ics",
    "/calendar/<token>.ics": lambda w, r: f"/calendar/{w.token_of('member')}.ics",
    "/subcommittees/<slug>": lambda w, r: "/subcommittees/net-zero",
    "/subcommittees/<slug>/calendar.ics": lambda w, r: "/subcommittees/net-zero/calendar.ics",
    "/materials/<int:material_id>": lambda w, r: f"/materials/{w.ids['sub_material']}",
    "/password-reset/<token>": lambda w, r: f"/password-reset/{secrets.token_urlsafe(32)}",
    "/account/2fa/enrol/<token>": lambda w, r: f"/account/2fa/enrol/{secrets.token_urlsafe(32)}",
    "/seminars/<int:seminar_id>/registration": lambda w, r: f"/seminars/{w.ids['open']}/registration",
    "/seminars/<int:seminar_id>/registration/cancel": lambda w, r: f"/seminars/{w.ids['open']}/registration/cancel",
    "/seminars/<int:seminar_id>/questions": lambda w, r: f"/seminars/{w.ids['upcoming']}/questions",
    "/questions/<int:question_id>/vote": lambda w, r: f"/questions/{w.ids['question']}/vote",
    "/seminars/<int:seminar_id>/questions/presenter": lambda w, r: f"/seminars/{w.ids['upcoming']}/questions/presenter",
    "/subcommittees/<slug>/join": lambda w, r: "/subcommittees/net-zero/join",
    "/subcommittees/<slug>/leave": lambda w, r: "/subcommittees/net-zero/leave",
    "/subcommittees/<slug>/materials": lambda w, r: "/subcommittees/net-zero/materials",
    "/subcommittees/<slug>/materials/<int:material_id>/delete":
        lambda w, r: f"/subcommittees/net-zero/materials/{w.fresh_material(subcommittee_id=w.ids['net_zero'])}/delete",
    "/subcommittees/<slug>/members/<int:member_id>/<action>":
        lambda w, r: f"/subcommittees/net-zero/members/{w.fresh_applicant()}/approve",
    "/subcommittees/<slug>/milestones": lambda w, r: "/subcommittees/net-zero/milestones",
    "/subcommittees/<slug>/milestones/<int:milestone_id>/done":
        lambda w, r: f"/subcommittees/net-zero/milestones/{w.ids['milestone']}/done",
    "/subcommittees/<slug>/milestones/<int:milestone_id>/undone":
        lambda w, r: f"/subcommittees/net-zero/milestones/{w.ids['milestone']}/undone",
    "/subcommittees/<slug>/sessions": lambda w, r: "/subcommittees/net-zero/sessions",
    "/subcommittees/<slug>/sessions/<int:session_id>":
        lambda w, r: f"/subcommittees/net-zero/sessions/{w.ids['session']}",
    "/subcommittees/proposals/<int:sub_id>/edit": lambda w, r: f"/subcommittees/proposals/{w.ids['proposal']}/edit",
    "/secretariat/accounts/<int:user_id>/anonymize": lambda w, r: f"/secretariat/accounts/{w.fresh_user()}/anonymize",
    "/secretariat/accounts/<int:user_id>/approve": lambda w, r: f"/secretariat/accounts/{w.fresh_user()}/approve",
    "/secretariat/accounts/<int:user_id>/reject": lambda w, r: f"/secretariat/accounts/{w.fresh_user()}/reject",
    "/secretariat/accounts/<int:user_id>/role": lambda w, r: f"/secretariat/accounts/{w.fresh_user()}/role",
    "/secretariat/accounts/<int:user_id>/state": lambda w, r: f"/secretariat/accounts/{w.fresh_user()}/state",
    "/secretariat/materials/<int:material_id>/delete":
        lambda w, r: f"/secretariat/materials/{w.fresh_material(seminar_id=w.ids['fy1'])}/delete",
    "/secretariat/outbox/<int:message_id>": lambda w, r: f"/secretariat/outbox/{w.ids['message']}",
    "/secretariat/outbox/<int:message_id>/retry": lambda w, r: f"/secretariat/outbox/{w.ids['message']}/retry",
    "/secretariat/program/<int:item_id>/delete": lambda w, r: f"/secretariat/program/{w.fresh_program_item()}/delete",
    "/secretariat/program/<int:item_id>/edit": lambda w, r: f"/secretariat/program/{w.ids['program_item']}/edit",
    "/secretariat/program/<int:item_id>/move": lambda w, r: f"/secretariat/program/{w.ids['program_item']}/move",
    "/secretariat/questions/<int:question_id>/answer":
        lambda w, r: f"/secretariat/questions/{w.fresh_question()}/answer",
    "/secretariat/questions/<int:question_id>/answered":
        lambda w, r: f"/secretariat/questions/{w.fresh_question()}/answered",
    "/secretariat/questions/<int:question_id>/hide": lambda w, r: f"/secretariat/questions/{w.fresh_question()}/hide",
    "/secretariat/questions/<int:question_id>/answering":
        lambda w, r: f"/secretariat/questions/{w.fresh_question()}/answering",
    "/secretariat/questions/<int:question_id>/approve":
        lambda w, r: f"/secretariat/questions/{w.fresh_question()}/approve",
    "/secretariat/seminars/<int:seminar_id>": lambda w, r: f"/secretariat/seminars/{w.ids['fy1']}",
    "/secretariat/seminars/<int:seminar_id>/edit": lambda w, r: f"/secretariat/seminars/{w.ids['fy1']}/edit",
    "/secretariat/seminars/<int:seminar_id>/announcement":
        lambda w, r: f"/secretariat/seminars/{w.ids['upcoming']}/announcement",
    "/announcements/unsubscribe/<token>": lambda w, r: "/announcements/unsubscribe/not-a-token",
    "/secretariat/seminars/<int:seminar_id>/mail": lambda w, r: f"/secretariat/seminars/{w.ids['upcoming']}/mail",
    "/secretariat/seminars/<int:seminar_id>/attendance":
        lambda w, r: f"/secretariat/seminars/{w.ids['fy1']}/attendance",
    "/secretariat/seminars/<int:seminar_id>/attendance/import":
        lambda w, r: f"/secretariat/seminars/{w.ids['fy1']}/attendance/import",
    "/secretariat/seminars/<int:seminar_id>/materials": lambda w, r: f"/secretariat/seminars/{w.ids['fy1']}/materials",
    "/secretariat/seminars/<int:seminar_id>/program": lambda w, r: f"/secretariat/seminars/{w.ids['fy1']}/program",
    "/secretariat/seminars/<int:seminar_id>/qa/close": lambda w, r: f"/secretariat/seminars/{w.ids['qa']}/qa/close",
    "/secretariat/seminars/<int:seminar_id>/preview": lambda w, r: f"/secretariat/seminars/{w.ids['fy1']}/preview",
    "/secretariat/seminars/<int:seminar_id>/publish": lambda w, r: f"/secretariat/seminars/{w.ids['fy1']}/publish",
    "/secretariat/seminars/<int:seminar_id>/qa/open": lambda w, r: f"/secretariat/seminars/{w.ids['qa']}/qa/open",
    "/secretariat/seminars/<int:seminar_id>/qa/approval":
        lambda w, r: f"/secretariat/seminars/{w.ids['qa']}/qa/approval",
    "/secretariat/seminars/<int:seminar_id>/questions":
        lambda w, r: f"/secretariat/seminars/{w.ids['upcoming']}/questions",
    "/secretariat/seminars/<int:seminar_id>/questions.csv":
        lambda w, r: f"/secretariat/seminars/{w.ids['upcoming']}/questions.csv",
    "/secretariat/seminars/<int:seminar_id>/registrants.csv":
        lambda w, r: f"/secretariat/seminars/{w.ids['upcoming']}/registrants.csv",
    "/secretariat/series/<int:series_id>/edit": lambda w, r: f"/secretariat/series/{w.ids['series']}/edit",
    "/secretariat/series/<int:series_id>/generate": lambda w, r: f"/secretariat/series/{w.ids['series']}/generate",
    "/secretariat/subcommittees/<int:sub_id>": lambda w, r: f"/secretariat/subcommittees/{w.ids['proposal']}",
    "/secretariat/subcommittees/requests/<int:member_id>/<any(approve, decline):action>":
        lambda w, r: f"/secretariat/subcommittees/requests/{w.fresh_applicant()}/approve",
}


def url_for_rule(world: World, rule: str, role: str) -> str:
    if rule in URLS:
        return URLS[rule](world, role)
    assert "<" not in rule, f"{rule}: no way to fill its parameters in URLS"
    return rule


def app_routes(app) -> dict[str, set[str]]:
    """Rule → methods (GET/POST/…; HEAD and OPTIONS aside), static files left out."""
    routes: dict[str, set[str]] = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        routes.setdefault(rule.rule, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    return routes


# ----------------------------------------------------------------------------- clients


class Actor:
    """One role's browser: its own cookie jar, logged in as its account."""

    def __init__(self, app, role: str, user: Any | None):
        self.role, self.user = role, user
        self.client = app.test_client()
        self.auth = AuthActions(self.client)

    def login(self) -> None:
        if self.user is not None:
            response = self.auth.login(self.user)
            assert is_redirect_home(response), f"{self.role} could not log in: {response.status_code}"

    def request(self, method: str, path: str, *, with_token: bool = True):
        if method == "GET":
            return self.client.get(path)
        # confirmed: the matrix is about who may act, so past the confirmation step (its own tests
        # show that a first post only asks); without a token nothing is confirmed.
        data = {"csrf_token": csrf_token(self.client, "/login"), "confirmed": "1"} if with_token else {}
        return self.client.open(path, method=method, data=data)


def is_redirect_home(response) -> bool:
    return response.status_code == 302 and urlsplit(response.headers["Location"]).path == "/"


def make_actors(app, world: World) -> dict[str, Actor]:
    actors = {role: Actor(app, role, None if role == "visitor" else world.users[role]) for role in ROLES}
    for actor in actors.values():
        actor.login()
    # Deactivated after logging in: the session it still holds must be worth nothing.
    with app.app_context():
        db.session.get(User, world.users["deactivated"].id).state = AccountState.DEACTIVATED
        db.session.commit()
    return actors


def check(expected: Any, response) -> bool:
    if expected == LOGIN:
        return is_login_redirect(response)
    return response.status_code == expected


REFUSED = {LOGIN, 400, 403, 404, 405}


def run_request(app, world: World, actor: Actor, rule: str, method: str, expected: Any,
                failures: list[str], *, with_token: bool = True) -> None:
    path = url_for_rule(world, rule, actor.role)
    track = method == "GET" or expected in REFUSED
    before = snapshot(app) if track else None
    label = f"{method} {path} ({rule}) as {actor.role}{'' if with_token else ' without CSRF token'}"
    try:
        response = actor.request(method, path, with_token=with_token)
    except Exception as exc:  # TESTING propagates what would be a 500
        kind = "a warning turned error" if isinstance(exc, Warning) else "a 500 in production"
        failures.append(f"{label}: raised {type(exc).__name__}: {exc} ({kind})")
        return
    if response.status_code >= 500:
        failures.append(f"{label}: {response.status_code} (server error)")
    elif not check(expected, response):
        where = response.headers.get("Location", "")
        failures.append(f"{label}: expected {expected}, got {response.status_code} {where}".rstrip())
    if track:
        changed = diff(before, snapshot(app))
        if changed:
            failures.append(f"{label}: answered {response.status_code} but changed records: {changed}")
    response.close()
    if method == "POST" and rule in ENDS_SESSION and actor.role not in ("visitor", "deactivated"):
        actor.login()


# ----------------------------------------------------------------------------- the matrix


def test_every_route_is_in_the_matrix(app):
    """A new route must say, here, who may use it; a removed one must leave the matrix."""
    routes = app_routes(app)
    missing = sorted(set(routes) - set(MATRIX))
    assert not missing, f"every route must be in the matrix; missing: {missing}"
    stale = sorted(set(MATRIX) - set(routes))
    assert not stale, f"routes in the matrix that the app no longer has: {stale}"
    for rule, methods in routes.items():
        assert set(MATRIX[rule]) == methods, f"{rule}: the app has {sorted(methods)}, the matrix {sorted(MATRIX[rule])}"
        for method, row in MATRIX[rule].items():
            assert set(row) == set(ROLES), f"{rule} {method}: every role needs an expectation"
        assert "<" not in rule or rule in URLS, f"{rule}: no way to fill its parameters in URLS"


# RFC 8058 one-click unsubscribe: mail programs POST without any session or CSRF token; the
# signed token in the URL is the proof (a wrong one answers 404, as above).
CSRF_EXEMPT = {"/announcements/unsubscribe/<token>"}


@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(app, demo, role):
    """Each route with this role: the status from MATRIX, never a 500, refusals change nothing;
    every POST route first without its CSRF token (400)."""
    world = build_world(app)
    actor = make_actors(app, world)[role]
    routes = app_routes(app)
    failures: list[str] = []
    for rule in sorted(routes):
        if "POST" in routes[rule] and rule not in CSRF_EXEMPT:
            # Every form is CSRF-protected: without the token, 400 and nothing changes.
            run_request(app, world, actor, rule, "POST", 400, failures, with_token=False)
        for method in ("GET", "POST"):
            expected = MATRIX[rule][method][role] if method in routes[rule] else 405
            run_request(app, world, actor, rule, method, expected, failures)
    assert not failures, "\n".join(failures)


# ----------------------------------------------------------------------------- IDOR


def login_client(app, user):
    client = app.test_client()
    response = AuthActions(client).login(user)
    assert is_redirect_home(response)
    return client


def post(client, path: str, data: dict | None = None, **kwargs):
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, "/login")}, **kwargs)


def make_open_seminar(app, key: str, **extra: Any) -> int:
    with app.app_context():
        import_data({"seminars": [seminar_record(key, **extra)]})
        db.session.commit()
        return db.session.scalar(select(Seminar.id).where(Seminar.key == key))


def registration_states(app, seminar_id: int) -> dict[int, RegistrationState]:
    with app.app_context():
        return {r.user_id: r.state for r in db.session.scalars(
            select(Registration).where(Registration.seminar_id == seminar_id))}


def test_cancel_affects_only_ones_own_registration(app, create_user):
    seminar_id = make_open_seminar(app, "idor-reg", qa="open")
    alice = create_user("member", email="alice@example.org", name="有栖 アリス")
    bob = create_user("member", email="bob@example.org", name="房 ボブ")
    carol = create_user("observer", email="carol@example.org")
    alice_client, bob_client, carol_client = (login_client(app, u) for u in (alice, bob, carol))
    for client in (alice_client, bob_client):
        assert post(client, f"/seminars/{seminar_id}/registration").status_code == 302
    assert registration_states(app, seminar_id) == {alice.id: RegistrationState.REGISTERED,
                                                    bob.id: RegistrationState.REGISTERED}

    # Carol has no registration: her cancel touches no one else's.
    before = snapshot(app)
    assert post(carol_client, f"/seminars/{seminar_id}/registration/cancel").status_code == 302
    assert diff(before, snapshot(app)) == ""

    # Alice cancels: only hers.
    assert post(alice_client, f"/seminars/{seminar_id}/registration/cancel").status_code == 302
    assert registration_states(app, seminar_id) == {alice.id: RegistrationState.CANCELLED,
                                                    bob.id: RegistrationState.REGISTERED}

    # Alice's pages show nothing of Bob's registration, and no join link for her now.
    mine = alice_client.get("/account/seminars").get_data(as_text=True)
    assert "房 ボブ" not in mine and "bob@example.org" not in mine
    detail = alice_client.get(f"/seminars/{seminar_id}").get_data(as_text=True)
    assert "https://example.org/webinar/idor-reg" not in detail
    assert "https://example.org/webinar/idor-reg" in bob_client.get(f"/seminars/{seminar_id}").get_data(as_text=True)
    # The registrant list is the secretariat's only.
    assert alice_client.get(f"/secretariat/seminars/{seminar_id}/registrants.csv").status_code == 403


def test_anonymous_question_does_not_reveal_its_author(app, create_user):
    seminar_id = make_open_seminar(app, "idor-qa", qa="open")
    author = create_user("member", email="anon.author@example.org", name="匿名希望 花子", org="ひみつ市")
    voter = create_user("member", email="voter@example.org", name="投票 太郎")
    secretariat = create_user("secretariat", email="sec.idor@example.org")
    author_client, voter_client, sec_client = (login_client(app, u) for u in (author, voter, secretariat))
    for client in (author_client, voter_client):
        assert post(client, f"/seminars/{seminar_id}/registration").status_code == 302
    response = post(author_client, f"/seminars/{seminar_id}/questions",
                    {"body": "匿名の質問です。", "anonymous": "y", "program_item": "0"})
    assert response.status_code == 302
    with app.app_context():
        question_id = db.session.scalar(select(Question.id).where(Question.seminar_id == seminar_id))
    secrets_of_author = ("匿名希望", "anon.author@example.org", "ひみつ市", f"/accounts/{author.id}")

    for path in (f"/seminars/{seminar_id}/questions", f"/seminars/{seminar_id}/questions?fragment=1&sort=time"):
        page = voter_client.get(path)
        assert page.status_code == 200
        html = page.get_data(as_text=True)
        assert "匿名の質問です。" in html
        assert f'data-question-id="{question_id}"' in html
        for secret in secrets_of_author:
            assert secret not in html, f"{path} reveals {secret!r} of an anonymous question's author"

    vote = post(voter_client, f"/questions/{question_id}/vote", headers={"Accept": "application/json"})
    assert vote.status_code == 200
    body = vote.get_data(as_text=True)
    assert vote.get_json() == {"question": question_id, "votes": 1, "added": True}
    for secret in secrets_of_author:
        assert secret not in body

    # The seminar page (public) does not reveal it either; nor does the list to the secretariat
    # (the contract: "to anyone, the secretariat included"), nor its back office (a shared screen
    # too); the digest mail, from which an answer is sent, names the asker.
    for client in (app.test_client(), voter_client):
        html = client.get(f"/seminars/{seminar_id}").get_data(as_text=True)
        for secret in secrets_of_author:
            assert secret not in html
    assert "匿名希望 花子" not in sec_client.get(f"/seminars/{seminar_id}/questions").get_data(as_text=True)
    back_office = sec_client.get(f"/secretariat/seminars/{seminar_id}/questions").get_data(as_text=True)
    assert "匿名希望 花子" not in back_office and "匿名の質問です。" in back_office


def test_personal_feed_only_with_its_token(app, create_user):
    seminar_id = make_open_seminar(app, "idor-feed")
    alice = create_user("member", email="alice.feed@example.org")
    bob = create_user("member", email="bob.feed@example.org")
    alice_client, bob_client = login_client(app, alice), login_client(app, bob)
    assert post(alice_client, f"/seminars/{seminar_id}/registration").status_code == 302
    with app.app_context():
        alice_token = db.session.get(User, alice.id).calendar_token
        bob_token = db.session.get(User, bob.id).calendar_token
    link = "https://example.org/webinar/idor-feed"

    # Alice's feed, with Alice's token (from any client): her seminar with its join link.
    feed = app.test_client().get(f"/calendar/{alice_token}.ics")
    assert feed.status_code == 200 and link in feed.get_data(as_text=True).replace("\r\n ", "")
    # Bob's token gives Bob's feed: nothing of Alice's.
    bob_feed = bob_client.get(f"/calendar/{bob_token}.ics")
    assert bob_feed.status_code == 200 and link not in bob_feed.get_data(as_text=True).replace("\r\n ", "")
    # Guessed, truncated, altered or id-like tokens: 404, with no data.
    altered = alice_token[:-1] + ("A" if alice_token[-1] != "A" else "B")
    upper = alice_token.upper() if alice_token.upper() != alice_token else "x"
    for guess in (secrets.token_urlsafe(32), alice_token[:-1], altered,
                  str(alice.id), alice.email, "%00", "..%2f..%2f", upper):
        response = bob_client.get(f"/calendar/{guess}.ics")
        assert response.status_code == 404, guess
        assert "BEGIN:VCALENDAR" not in response.get_data(as_text=True)
    # The account page shows only one's own feed URL.
    page = bob_client.get("/account").get_data(as_text=True)
    assert bob_token in page and alice_token not in page
    # A regenerated token: the old URL answers 404 at once.
    assert post(alice_client, "/account/calendar-token", {"confirmed": "1"}).status_code == 302
    assert app.test_client().get(f"/calendar/{alice_token}.ics").status_code == 404
    # A deactivated account's feed is gone too.
    with app.app_context():
        new_token = db.session.get(User, alice.id).calendar_token
        assert app.test_client().get(f"/calendar/{new_token}.ics").status_code == 200
        db.session.get(User, alice.id).state = AccountState.DEACTIVATED
        db.session.commit()
    assert app.test_client().get(f"/calendar/{new_token}.ics").status_code == 404


def test_someone_elses_proposal_cannot_be_edited(app, create_user):
    owner = create_user("member", email="owner@example.org")
    other = create_user("member", email="other@example.org")
    secretariat = create_user("secretariat", email="sec.proposal@example.org")
    with app.app_context():
        sub = Subcommittee(slug="owners-proposal", name="所有者の提案", fiscal_year=2021,
                           status=SubcommitteeStatus.CHANGES_REQUESTED, proposed_by_id=owner.id,
                           purpose="元の目的", issues=["課題"], outcomes=["成果"], fields=["環境"])
        db.session.add(sub)
        db.session.commit()
        sub_id = sub.id
    form = {"name": "乗っ取り", "fiscal_year": "2021", "purpose": "書き換え", "issues": "x", "outcomes": "y",
            "fields": "環境"}
    for user in (other, secretariat):
        client = login_client(app, user)
        before = snapshot(app)
        get = client.get(f"/subcommittees/proposals/{sub_id}/edit")
        assert get.status_code == 404 and "元の目的" not in get.get_data(as_text=True)
        assert post(client, f"/subcommittees/proposals/{sub_id}/edit", form).status_code == 404
        assert diff(before, snapshot(app)) == ""
        # Ids that do not exist: the same 404.
        assert client.get(f"/subcommittees/proposals/{sub_id + 1000}/edit").status_code == 404
    assert app.test_client().get(f"/subcommittees/proposals/{sub_id}/edit").status_code == 302
    with app.app_context():
        assert db.session.get(Subcommittee, sub_id).purpose == "元の目的"
    # The proposer reaches the same URL.
    assert login_client(app, owner).get(f"/subcommittees/proposals/{sub_id}/edit").status_code == 200


def download(client, material_id: int) -> tuple[int, bytes]:
    response = client.get(f"/materials/{material_id}")
    try:
        return response.status_code, response.get_data()
    finally:
        response.close()


def test_materials_of_a_draft_seminar_are_not_found(app, create_user):
    draft_id = make_open_seminar(app, "idor-draft", status="draft")
    member = create_user("member", email="m.draft@example.org")
    observer = create_user("observer", email="o.draft@example.org")
    secretariat = create_user("secretariat", email="s.draft@example.org")
    with app.app_context():
        ids = []
        for public in (True, False):
            material = storage.save_material(io.BytesIO(PDF), "下書き資料.pdf", title="", public=public,
                                                       uploaded_by_id=None, seminar_id=draft_id)
            db.session.commit()
            ids.append(material.id)
    for client in (app.test_client(), login_client(app, member), login_client(app, observer)):
        for material_id in ids:
            status, body = download(client, material_id)
            assert status == 404, material_id
            assert not body.startswith(b"%PDF")
        assert client.get(f"/seminars/{draft_id}").status_code == 404
    sec_client = login_client(app, secretariat)
    for material_id in ids:
        assert download(sec_client, material_id) == (200, PDF)


def test_members_only_subcommittee_material(app, demo, create_user):
    with app.app_context():
        sub_id = db.session.scalar(select(Subcommittee.id).where(Subcommittee.slug == "net-zero"))
    lead = create_user("member", email="lead.mat@example.org")
    member_of_sub = create_user("member", email="in.sub@example.org")
    pending = create_user("member", email="pending.sub@example.org")
    outsider = create_user("member", email="outsider@example.org")
    observer = create_user("observer", email="observer.mat@example.org")
    secretariat = create_user("secretariat", email="sec.mat@example.org")
    with app.app_context():
        db.session.add_all([
            SubcommitteeMember(subcommittee_id=sub_id, user_id=lead.id, is_lead=True, state=MembershipState.APPROVED),
            SubcommitteeMember(subcommittee_id=sub_id, user_id=member_of_sub.id, state=MembershipState.APPROVED),
            SubcommitteeMember(subcommittee_id=sub_id, user_id=pending.id, state=MembershipState.PENDING),
        ])
        material = storage.save_material(io.BytesIO(PDF), "会員限定.pdf", title="会員限定資料", public=False,
                                                   uploaded_by_id=lead.id, subcommittee_id=sub_id)
        public = storage.save_material(io.BytesIO(PDF), "公開.pdf", title="公開資料", public=True,
                                                 uploaded_by_id=lead.id, subcommittee_id=sub_id)
        db.session.commit()
        material_id, public_id = material.id, public.id
    for user in (outsider, observer, pending):
        client = login_client(app, user)
        status, body = download(client, material_id)
        assert status == 403, user.email
        assert not body.startswith(b"%PDF")
        assert download(client, public_id) == (200, PDF)
    assert is_login_redirect(app.test_client().get(f"/materials/{material_id}"))
    assert download(app.test_client(), public_id) == (200, PDF)
    for user in (lead, member_of_sub, secretariat):
        assert download(login_client(app, user), material_id) == (200, PDF), user.email
    # Ids that do not exist answer 404 for everyone.
    assert download(login_client(app, lead), material_id + 1000)[0] == 404


def test_a_lead_reaches_no_object_of_another_subcommittee(app, demo, create_user):
    """The lead of other-sub uses its own slug with net-zero's ids: 404, nothing changes."""
    with app.app_context():
        import_data({"subcommittees": [{"slug": "other-sub", "name": "別の分科会", "fiscal_year": 2021}]})
        db.session.commit()
        subs = {s.slug: s for s in db.session.scalars(select(Subcommittee))}
        net_zero, other = subs["net-zero"], subs["other-sub"]
        session_id, milestone_id = net_zero.sessions[0].id, net_zero.milestones[0].id
        net_zero_id, other_id = net_zero.id, other.id
    lead = create_user("member", email="lead.other@example.org")
    applicant = create_user("member", email="applicant.nz@example.org")
    with app.app_context():
        db.session.add(SubcommitteeMember(subcommittee_id=other_id, user_id=lead.id, is_lead=True,
                                          state=MembershipState.APPROVED))
        request = SubcommitteeMember(subcommittee_id=net_zero_id, user_id=applicant.id, state=MembershipState.PENDING)
        db.session.add(request)
        material = storage.save_material(io.BytesIO(PDF), "nz.pdf", title="", public=False,
                                                   uploaded_by_id=None, subcommittee_id=net_zero_id)
        db.session.commit()
        request_id, material_id = request.id, material.id
    client = login_client(app, lead)
    attempts = [
        ("GET", f"/subcommittees/other-sub/sessions/{session_id}", {}),
        ("POST", f"/subcommittees/other-sub/sessions/{session_id}",
         {"number": "9", "title": "乗っ取り", "precision": "undecided", "status": "scheduled"}),
        ("POST", f"/subcommittees/other-sub/milestones/{milestone_id}/done", {}),
        ("POST", f"/subcommittees/other-sub/members/{request_id}/approve", {"confirmed": "1"}),
        ("POST", f"/subcommittees/other-sub/members/{request_id}/lead", {}),
        ("POST", f"/subcommittees/other-sub/materials/{material_id}/delete", {}),
    ]
    for method, path, data in attempts:
        before = snapshot(app)
        response = client.get(path) if method == "GET" else post(client, path, data)
        assert response.status_code == 404, f"{method} {path}: {response.status_code}"
        assert diff(before, snapshot(app)) == "", f"{method} {path} changed records"
    # Through net-zero's own URLs the lead of other-sub is not a lead: 403, nothing changes.
    for method, path, data in [
        ("GET", f"/subcommittees/net-zero/sessions/{session_id}", {}),
        ("POST", f"/subcommittees/net-zero/members/{request_id}/approve", {"confirmed": "1"}),
        ("POST", f"/subcommittees/net-zero/milestones/{milestone_id}/done", {}),
    ]:
        before = snapshot(app)
        response = client.get(path) if method == "GET" else post(client, path, data)
        assert response.status_code == 403, f"{method} {path}: {response.status_code}"
        assert diff(before, snapshot(app)) == ""
    with app.app_context():
        assert db.session.get(SubcommitteeMember, request_id).state is MembershipState.PENDING
        assert db.session.get(SubcommitteeSession, session_id).title != "乗っ取り"
        assert db.session.get(Material, material_id) is not None


def test_secretariat_objects_by_id_need_the_secretariat(app, demo, create_user):
    """Program items, questions and outbox messages by id: 403 for a member, whatever the id."""
    member = create_user("member", email="m.ids@example.org")
    client = login_client(app, member)
    with app.app_context():
        item_id = db.session.scalar(select(ProgramItem.id).order_by(ProgramItem.id))
    for path in (f"/secretariat/program/{item_id}/edit", f"/secretariat/program/{item_id + 1000}/edit",
                 "/secretariat/outbox/1", "/secretariat/outbox/999999"):
        assert client.get(path).status_code == 403, path
    before = snapshot(app)
    for path in (f"/secretariat/program/{item_id}/delete", f"/secretariat/program/{item_id}/move",
                 "/secretariat/questions/1/hide", "/secretariat/accounts/1/anonymize"):
        assert post(client, path, {"confirmed": "1"}).status_code == 403, path
    assert diff(before, snapshot(app)) == ""
