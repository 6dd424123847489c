"""Public seminar pages: the annual schedule, one seminar, registration, the JSON list."""

from __future__ import annotations

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.core.dates import next_local_midnight, year_ok
from portal.core.db import utcnow
from portal.materials.access import may_download
from portal.qa import access as qa_access
from portal.qa import queries as qa_queries
from portal.seminars import api, queries, registrations
from portal.seminars.access import is_visible, may_register, sees_drafts
from portal.seminars.forms import RegistrationForm
from portal.seminars.models import RegistrationState, Seminar
from portal.web import answers
from portal.web.access import MAX_ID, get_or_404, require
from portal.web.confirm import confirmation
from portal.web.reads import read_only
from portal.web.uow import unit_of_work

bp = Blueprint("seminars", __name__)


@bp.get("/seminars")
@read_only
def schedule() -> ResponseReturnValue:
    generation = answers.anonymous_generation()  # before the reads: a change racing them counts
    now = utcnow()  # before the default year is chosen from today
    data = queries.schedule(requested_fiscal_year(), include_drafts=sees_drafts(current_user))
    # The default year is today's: a stored schedule is good until midnight at the latest.
    return answers.page(render_template("seminars/schedule.html", schedule=data), generation,
                        until=next_local_midnight(now))


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


@bp.get("/seminars/<int:seminar_id>")
@read_only
def detail(seminar_id: int) -> ResponseReturnValue:
    generation = answers.anonymous_generation()  # before the reads: a change racing them counts
    now = utcnow()  # before rendering: a stored page expires no later than what it shows
    seminar = seminar_for_page(seminar_id)
    registration = queries.registration_of(seminar, current_user)
    state = registration.state if registration is not None else None
    html = render_template(
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
        downloadable={m.id for m in seminar.materials if may_download(current_user, m)},
    )
    return answers.page(html, generation, until=seminar.next_change_by_time(now))


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
        message=(_("「%(title)s」（%(when)s）の参加登録を取り消します。"
                   "席はキャンセル待ちの方に回ることがあり、元に戻せない場合があります。取消の確認メールをお送りします。",
                   title=seminar.title or seminar.series.name,
                   when=seminar.label(with_year=True, locale=str(get_locale())))
                 if registered else
                 _("「%(title)s」のキャンセル待ちをやめます。取消の確認メールをお送りします。",
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
    return jsonify({"seminars": api.seminar_list()})
