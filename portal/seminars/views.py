"""Public seminar pages: the annual schedule, one seminar, registration, the JSON list."""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.core import versions
from portal.core.dates import today_local, year_ok
from portal.core.db import utcnow
from portal.materials.access import downloadable
from portal.qa import access as qa_access
from portal.qa import queries as qa_queries
from portal.seminars import api, queries, registrations
from portal.seminars.access import is_visible, may_register, sees_drafts
from portal.seminars.forms import RegistrationForm
from portal.seminars.models import RegistrationState, Seminar
from portal.web.access import MAX_ID, get_or_404, require
from portal.web.conditional import shared
from portal.web.confirm import confirmation
from portal.web.lang import ja_message
from portal.web.uow import unit_of_work
from portal.web.urls import base_url

bp = Blueprint("seminars", __name__)


# What a seminar's public page reads; its validator is made of their versions.
PAGE_SCOPES = ("seminars", "seminar_series", "program_items", "presenters", "registrations", "materials",
               "questions")
SCHEDULE_SCOPES = ("seminars", "seminar_series")


@bp.get("/seminars")
def schedule() -> ResponseReturnValue:
    fy = requested_fiscal_year()

    def build() -> str:
        data = queries.schedule(fy, include_drafts=sees_drafts(current_user))
        return render_template("seminars/schedule.html", schedule=data)

    # The default year, and which seminars are over, are today's.
    return shared(lambda: versions.validator("schedule", fy, today_local(), scopes=SCHEDULE_SCOPES), build,
                  last_modified=False)


def requested_fiscal_year() -> int | None:
    """?fy=2021, or None (the default year) for anything that is not a plausible year."""
    fy = request.args.get("fy", type=int)
    return fy if fy is not None and year_ok(fy) else None


def seminar_for_page(seminar_id: int) -> Seminar:
    """The seminar with its program, presenters and materials (two queries), or 404 when missing
    or not visible to this viewer (the one rule: ``access.is_visible``)."""
    seminar = queries.get_for_page(seminar_id) if 0 < seminar_id <= MAX_ID else None
    if seminar is None or not is_visible(seminar, current_user):
        abort(404)  # as web.access.get_or_404 answers, with its eager loads kept
    return seminar


def materials_by_item(seminar: Seminar) -> dict[int | None, list]:
    """Materials under the program item they belong to; None holds the seminar's own ones."""
    items = {item.id for item in seminar.program}
    grouped: dict[int | None, list] = {}
    for m in seminar.materials:
        grouped.setdefault(m.program_item_id if m.program_item_id in items else None, []).append(m)
    return grouped


@bp.get("/seminars/<int:seminar_id>")
def detail(seminar_id: int) -> ResponseReturnValue:
    def validator() -> tuple[str, datetime]:
        # Checked first: a seminar a visitor may not see answers 404, never a 304 to a guessed ETag.
        seminar = get_or_404(Seminar, seminar_id, visible=is_visible)
        # Registration opening or closing and the seminar being over change the page with no
        # write: the next such instant is part of the validator, so it moves then.
        return versions.validator("seminar", seminar_id, seminar.next_change_by_time(utcnow()), scopes=PAGE_SCOPES)

    def build() -> str:
        seminar = seminar_for_page(seminar_id)
        registration = queries.registration_of(seminar, current_user)
        state = registration.state if registration is not None else None
        return render_template(
            "seminars/detail.html",
            seminar=seminar,
            registered=state is RegistrationState.REGISTERED,  # the join link, at any time
            waiting=state is RegistrationState.WAITING,
            seats=queries.seats(seminar),
            closed_reason=registrations.registration_problem(seminar),
            # Only a logged-in account gets forms: an anonymous view then needs no session at all.
            form=RegistrationForm() if current_user.is_authenticated else None,
            can_take_part_in_qa=qa_access.may_take_part(current_user, seminar),
            faq=qa_queries.faq(seminar) if seminar.qa_open or seminar.qa_closed_at else [],  # after a Q&A
            downloadable=downloadable(current_user, seminar.materials),
            materials_of=materials_by_item(seminar),
        )

    return shared(validator, build, last_modified=False)


@bp.post("/seminars/<int:seminar_id>/registration")
@login_required
def register(seminar_id: int) -> ResponseReturnValue:
    seminar = get_or_404(Seminar, seminar_id, visible=is_visible)
    require(may_register(current_user, seminar))
    before = queries.registration_of(seminar, current_user)
    if before is not None and before.state is not RegistrationState.CANCELLED:
        flash(_("既に参加登録済みです。") if before.state is RegistrationState.REGISTERED
              else _("既にキャンセル待ちに登録されています。"), "info")
        return redirect(url_for(".detail", seminar_id=seminar.id))
    with unit_of_work() as work:
        registration = registrations.register(seminar.id, current_user)
    if work.ok:
        if registration.state is RegistrationState.REGISTERED:
            flash(_("参加登録しました。確認メールをお送りします。"), "success")
        else:
            flash(_("定員に達しているため、キャンセル待ちとして登録しました。"), "info")
    return redirect(url_for(".detail", seminar_id=seminar.id))


@bp.get("/seminars/<int:seminar_id>/registration/cancel")
@login_required
def cancel_confirm(seminar_id: int) -> ResponseReturnValue:
    """Ask before cancelling: a place given up may go to the waitlist at once."""
    seminar = get_or_404(Seminar, seminar_id, visible=is_visible)
    registration = queries.registration_of(seminar, current_user)
    back = url_for(".detail", seminar_id=seminar.id)
    if registration is None or registration.state is RegistrationState.CANCELLED:
        return redirect(back)
    registered = registration.state is RegistrationState.REGISTERED
    return confirmation(
        title=_("参加を取り消します") if registered else _("キャンセル待ちをやめます"),
        message=(ja_message(_("「%(title)s」（%(when)s）の参加登録を取り消します。"
                   "席はキャンセル待ちの方に回ることがあり、元に戻せない場合があります。取消の確認メールをお送りします。"),
                            plain={"when": seminar.label(with_year=True, locale=str(get_locale()))},
                            title=seminar.title or seminar.series.name)
                 if registered else
                 ja_message(_("「%(title)s」のキャンセル待ちをやめます。取消の確認メールをお送りします。"),
                            title=seminar.title or seminar.series.name)),
        action=url_for(".cancel", seminar_id=seminar.id),
        button=_("参加を取り消す") if registered else _("キャンセル待ちをやめる"), back=back)


@bp.post("/seminars/<int:seminar_id>/registration/cancel")
@login_required
def cancel(seminar_id: int) -> ResponseReturnValue:
    seminar = get_or_404(Seminar, seminar_id, visible=is_visible)
    with unit_of_work():
        registration = registrations.cancel(seminar.id, current_user)
    if registration is not None:
        flash(_("参加登録を取り消しました。"), "info")
    return redirect(url_for(".detail", seminar_id=seminar_id))


@bp.get("/account/seminars")
@login_required
def my_seminars() -> ResponseReturnValue:
    mine = queries.my_registrations(current_user)
    upcoming = [r for r in mine if not r.seminar.is_past]
    past = [r for r in mine if r.seminar.is_past]
    return render_template("seminars/mine.html", upcoming=upcoming[::-1], past=past)


@bp.get("/api/v1/seminars")
def api_seminars() -> ResponseReturnValue:
    # Absolute URLs: the base URL (or the request's host) is part of the answer.
    return shared(lambda: versions.validator("api", base_url(), scopes=SCHEDULE_SCOPES),
                  lambda: jsonify({"seminars": api.seminar_list()}), last_modified=False)
