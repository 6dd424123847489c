"""Back office for the seminar series: schedule, seminars, programs, materials, registrants,
the Q&A switch.

A blueprint nested under the secretariat's (registered in ``portal.secretariat.views``): its
one guard covers these routes, and this module never imports it. URLs are the secretariat's
(/secretariat/seminars/...); endpoints are ``secretariat.seminars.<view>``.
"""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from portal.audit.services import record
from portal.core.dates import format_time
from portal.materials import storage
from portal.materials.forms import MaterialForm
from portal.materials.models import Material
from portal.materials.views import upload_from_form
from portal.seminars import exports, notifications, operations, queries
from portal.seminars.forms import (
    GenerateForm,
    MailRegistrantsForm,
    ProgramItemForm,
    SeminarForm,
    SeriesForm,
)
from portal.seminars.models import ProgramItem, RegistrationState, Seminar, SeminarSeries, SeminarStatus
from portal.seminars.views import requested_fiscal_year, seminar_for_page
from portal.web.access import get_or_404
from portal.web.client import client_address
from portal.web.forms import ActionForm
from portal.web.responses import csv_response
from portal.web.uow import flash_errors, render_form, unit_of_work

bp = Blueprint("seminars", __name__)


@bp.get("/seminars")
def schedule() -> ResponseReturnValue:
    data = queries.schedule(requested_fiscal_year(), include_drafts=True)
    return render_template("secretariat/seminars.html", schedule=data, series=queries.all_series(),
                           generate_form=GenerateForm(), form=ActionForm())


@bp.route("/series/new", methods=["GET", "POST"])
def series_new() -> ResponseReturnValue:
    form = SeriesForm()
    if form.validate_on_submit():
        with unit_of_work(form) as work:
            series = operations.create_series(**form.values())
        if work.ok:
            flash(_("シリーズを作成しました。"), "success")
            return redirect(url_for(".schedule", fy=series.fiscal_year))
    return render_form("secretariat/series_form.html", form)


@bp.route("/series/<int:series_id>/edit", methods=["GET", "POST"])
def series_edit(series_id: int) -> ResponseReturnValue:
    series = get_or_404(SeminarSeries, series_id)
    form = SeriesForm(obj=series)
    if form.validate_on_submit():
        with unit_of_work(form) as work:
            operations.update_series(series, **form.values())
        if work.ok:
            flash(_("シリーズを更新しました。"), "success")
            return redirect(url_for(".schedule", fy=series.fiscal_year))
    return render_form("secretariat/series_form.html", form, series=series)


@bp.post("/series/<int:series_id>/generate")
def series_generate(series_id: int) -> ResponseReturnValue:
    series = get_or_404(SeminarSeries, series_id)
    fiscal_year = series.fiscal_year
    form = GenerateForm(fiscal_year=fiscal_year)
    first, count = form.first_date.data, form.count.data
    if form.validate_on_submit() and first is not None and count is not None:
        with unit_of_work() as work:
            created = operations.generate_bimonthly(series, first, count, form.start.data, form.end.data)
        if work.ok:
            flash(_("隔月のセミナーを%(count)s件、下書きとして作成しました。", count=len(created)), "success")
    else:
        flash_errors(form)
    return redirect(url_for(".schedule", fy=fiscal_year))


@bp.route("/seminars/new", methods=["GET", "POST"])
def seminar_new() -> ResponseReturnValue:
    form = SeminarForm.from_seminar(queries.all_series())
    series = request.args.get("series", "")
    if not form.is_submitted() and series.isdigit():
        form.series_id.data = int(series)
    if form.validate_on_submit():
        with unit_of_work(form) as work:
            seminar = operations.create_seminar(form.values())
        if work.ok:
            flash(_("セミナーを作成しました。"), "success")
            return _to_manage(seminar.id)
    return render_form("secretariat/seminar_form.html", form)


@bp.route("/seminars/<int:seminar_id>/edit", methods=["GET", "POST"])
def seminar_edit(seminar_id: int) -> ResponseReturnValue:
    seminar = get_or_404(Seminar, seminar_id)
    form = SeminarForm.from_seminar(queries.all_series(), seminar)
    if form.validate_on_submit():
        was = seminar.status
        with unit_of_work(form) as work:
            changed = operations.update_seminar(seminar, form.values())
        if work.ok:
            if seminar.status is SeminarStatus.PUBLISHED and was is not SeminarStatus.PUBLISHED:
                # Published, or back from cancelled: offer the 開催案内 (preview, segment, time).
                flash(_("セミナーを公開しました。開催案内メールを送りましょう。"), "success")
                return redirect(url_for("secretariat.announcements.compose", seminar_id=seminar_id))
            if changed:
                flash(_("セミナーを更新しました。"), "success")
            else:
                flash(_("変更はありませんでした。"), "info")
            return _to_manage(seminar_id)
    return render_form("secretariat/seminar_form.html", form, seminar=seminar)


def _to_manage(seminar_id: int | None, section: str = "") -> ResponseReturnValue:
    """Back to the seminar's back-office page, at the section the change was made in."""
    return redirect(url_for(".manage", seminar_id=seminar_id) + section)


def _manage_page(seminar: Seminar, item_form: ProgramItemForm | None = None) -> str:
    """The seminar's back-office page; ``item_form`` re-shows a program item that was refused."""
    registrations = queries.active_registrations(seminar)
    states = [r.state for r in registrations]
    return render_template(
        "secretariat/seminar.html", seminar=seminar, registrations=registrations,
        registered_count=states.count(RegistrationState.REGISTERED),
        waiting_count=states.count(RegistrationState.WAITING),
        by_kind=queries.counts_by_organization_kind(registrations),
        item_form=item_form or ProgramItemForm(), mail_form=MailRegistrantsForm(), form=ActionForm(),
        material_form=_material_form(seminar),
    )


@bp.get("/seminars/<int:seminar_id>")
def manage(seminar_id: int) -> ResponseReturnValue:
    return _manage_page(seminar_for_page(seminar_id))


@bp.post("/seminars/<int:seminar_id>/program")
def program_add(seminar_id: int) -> ResponseReturnValue:
    seminar = get_or_404(Seminar, seminar_id)
    form = ProgramItemForm()
    if not form.validate_on_submit():
        return _manage_page(seminar, form), 422
    with unit_of_work():
        operations.save_program_item(seminar, None, **form.values())
    flash(_("プログラムに項目を追加しました。"), "success")
    return _to_manage(seminar_id, "#program")


@bp.route("/program/<int:item_id>/edit", methods=["GET", "POST"])
def program_edit(item_id: int) -> ResponseReturnValue:
    item = get_or_404(ProgramItem, item_id)
    form = ProgramItemForm.from_item(item)
    if form.validate_on_submit():
        seminar_id = item.seminar_id
        with unit_of_work(form) as work:
            operations.save_program_item(item.seminar, item, **form.values())
        if work.ok:
            flash(_("プログラムを更新しました。"), "success")
            return _to_manage(seminar_id, "#program")
    return render_form("secretariat/program_item_form.html", form, item=item)


@bp.post("/program/<int:item_id>/move")
def program_move(item_id: int) -> ResponseReturnValue:
    item = get_or_404(ProgramItem, item_id)
    seminar_id = item.seminar_id
    with unit_of_work():
        operations.move_program_item(item, -1 if request.form.get("direction") == "up" else 1)
    return _to_manage(seminar_id, "#program")


@bp.post("/program/<int:item_id>/delete")
def program_delete(item_id: int) -> ResponseReturnValue:
    item = get_or_404(ProgramItem, item_id)
    seminar_id = item.seminar_id
    with unit_of_work():
        operations.remove_program_item(item)
    flash(_("プログラムの項目を削除しました。"), "info")
    return _to_manage(seminar_id, "#program")


@bp.get("/seminars/<int:seminar_id>/registrants.csv")
def registrants_csv(seminar_id: int) -> ResponseReturnValue:
    seminar = get_or_404(Seminar, seminar_id)
    with unit_of_work():  # the export is recorded before anything is handed out
        record("export.registrants", actor_id=current_user.id, subject=f"seminar:{seminar.id}", ip=client_address())
    return csv_response(exports.registrants_csv(seminar), f"registrants-{seminar.key}")


@bp.post("/seminars/<int:seminar_id>/mail")
def registrants_mail(seminar_id: int) -> ResponseReturnValue:
    seminar = get_or_404(Seminar, seminar_id)
    form = MailRegistrantsForm()
    if form.validate_on_submit():
        with unit_of_work():
            count = notifications.mail_registrants(seminar, (form.subject.data or "").strip(), form.body.data or "")
        flash(_("参加登録者 %(count)s 名にメールを送信します。", count=count), "success")
    else:
        flash(_("件名と本文を入力してください。"), "error")
    return _to_manage(seminar_id)


def _material_form(seminar: Seminar) -> MaterialForm:
    form = MaterialForm()
    form.program_item_id.choices = [(0, _("（セミナー全体）"))] + [
        (item.id, f"{format_time(item.start_time)} {item.title}".strip()) for item in seminar.program
    ]
    return form


@bp.post("/seminars/<int:seminar_id>/materials")
def material_upload(seminar_id: int) -> ResponseReturnValue:
    seminar = get_or_404(Seminar, seminar_id)
    form = _material_form(seminar)
    item_id = form.program_item_id.data if form.program_item_id.data in {i.id for i in seminar.program} else None
    upload_from_form(form, seminar_id=seminar_id, program_item_id=item_id)
    return _to_manage(seminar_id, "#materials")


@bp.post("/materials/<int:material_id>/delete")
def material_delete(material_id: int) -> ResponseReturnValue:
    material = get_or_404(Material, material_id)
    seminar_id = material.seminar_id
    with unit_of_work():
        storage.delete_material(material)
    flash(_("資料を削除しました。"), "info")
    return _to_manage(seminar_id, "#materials")
