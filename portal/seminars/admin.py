"""Back office for the seminar series: schedule, seminars, programs, materials, registrants,
the Q&A switch.

A blueprint nested under the secretariat's (registered in ``portal.secretariat.views``): its
one guard covers these routes, and this module never imports it. URLs are the secretariat's
(/secretariat/seminars/...); endpoints are ``secretariat.seminars.<view>``.
"""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from portal.audit.services import record
from portal.core.dates import date_label, format_moment, format_time, to_local
from portal.core.db import db
from portal.materials import storage
from portal.materials.forms import MaterialForm
from portal.materials.models import Material
from portal.materials.views import upload_from_form
from portal.seminars import exports, notifications, operations, queries
from portal.seminars.forms import (
    AttendanceImportForm,
    GenerateForm,
    MailRegistrantsForm,
    ProgramItemForm,
    SeminarForm,
    SeriesForm,
    rearranged,
)
from portal.seminars.models import ProgramItem, RegistrationState, Seminar, SeminarSeries, SeminarStatus
from portal.seminars.operations import Actor
from portal.seminars.views import materials_by_item, requested_fiscal_year, seminar_for_page
from portal.web.access import get_or_404
from portal.web.client import client_address
from portal.web.confirm import confirmation, is_confirmed
from portal.web.forms import ActionForm, submitted
from portal.web.lang import ja_choice, ja_message
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
            _audit_series("series.created", series)
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
            before = f"{series.fiscal_year}年度 {series.name}"
            operations.update_series(series, **form.values())
            after = f"{series.fiscal_year}年度 {series.name}"
            _audit_series("series.updated", series, changes=[["series", before, after]] if before != after else [])
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
            _audit_series("series.generated", series, count=len(created))
        if work.ok:
            flash(_("隔月のセミナーを%(count)s件、下書きとして作成しました。", count=len(created)), "success")
    else:
        flash_errors(form)
    return redirect(url_for(".schedule", fy=fiscal_year))


def _actor() -> Actor:
    """The secretariat account making a change, for the audit log."""
    return Actor(current_user._get_current_object(), client_address())


def _audit_series(action: str, series: SeminarSeries, **details: Any) -> None:
    db.session.flush()  # a new series has its id
    record(action, actor_id=current_user.id, subject=f"series:{series.id}", ip=client_address(),
           details={"series": f"{series.fiscal_year}年度 {series.name}", **details})


@bp.route("/seminars/new", methods=["GET", "POST"])
def seminar_new() -> ResponseReturnValue:
    form = SeminarForm.from_seminar(queries.all_series())
    series = request.args.get("series", "")
    source = _copy_source()
    if not form.is_submitted():
        if series.isdigit():
            form.series_id.data = int(series)
        if source is not None:
            form.copy_of(source)
    if form.validate_on_submit():
        with unit_of_work(form) as work:
            seminar = operations.create_seminar(form.values(), by=_actor())
            if source is not None:
                operations.copy_program(source, seminar, by=_actor())
        if work.ok:
            flash(_("セミナーを作成しました。"), "success")
            _flash_understood(seminar)
            return _to_manage(seminar.id)
    return render_form("secretariat/seminar_form.html", form, source=source, sources=queries.copy_sources())


def _copy_source() -> Seminar | None:
    """The past seminar a new one is copied from (?copy=<id>, kept on the submitted form)."""
    raw = request.values.get("copy", "")
    if not raw:
        return None
    if not raw.isdigit():
        abort(404)
    return get_or_404(Seminar, int(raw))


WHEN_FIELDS = {"date_on", "precision", "starts_at", "ends_at"}


def _flash_understood(seminar: Seminar, changed: set[str] | None = None) -> None:
    """Say plainly what the typed date, times and registration window were understood as
    (``changed``: only the fields that changed; None: a new seminar, all of them)."""
    if changed is None or changed & WHEN_FIELDS:
        flash(_("日時を「%(when)s」として受け付けました。", when=seminar.label(with_year=True)), "info")
    opens, closes = seminar.registration_opens_at, seminar.registration_closes_at
    if opens and (changed is None or "registration_opens_at" in changed):
        flash(_("受付開始を「%(when)s」として受け付けました。", when=format_moment(opens)), "info")
    if closes and (changed is None or "registration_closes_at" in changed):
        flash(_("受付締切を「%(when)s」として受け付けました。", when=format_moment(closes)), "info")


@bp.route("/seminars/<int:seminar_id>/edit", methods=["GET", "POST"])
def seminar_edit(seminar_id: int) -> ResponseReturnValue:
    seminar = get_or_404(Seminar, seminar_id)
    form = SeminarForm.from_seminar(queries.all_series(), seminar)
    if form.validate_on_submit():
        was = seminar.status
        values = form.values()
        notice = operations.notice_for(seminar, values)
        told = len(notifications.notice_recipients(seminar, notice)) if notice else 0
        if told and notice and not is_confirmed():  # it mails people: ask first
            return _confirm_change(seminar, values, notice, told)
        with unit_of_work(form) as work:
            changed = operations.update_seminar(seminar, values, by=_actor())
        if work.ok:
            if seminar.status is SeminarStatus.PUBLISHED and was is not SeminarStatus.PUBLISHED:
                # Published, or back from cancelled: offer the 開催案内 (preview, segment, time).
                flash(_("セミナーを公開しました。開催案内メールを送りましょう。"), "success")
                return redirect(url_for("secretariat.announcements.compose", seminar_id=seminar_id))
            if changed:
                flash(_("セミナーを更新しました。"), "success")
                _flash_understood(seminar, set(changed))
            else:
                flash(_("変更はありませんでした。"), "info")
            return _to_manage(seminar_id)
    return render_form("secretariat/seminar_form.html", form, seminar=seminar)


def _local_time(value: datetime | None) -> time | None:
    return to_local(value).time() if value else None


def _confirm_change(seminar: Seminar, values: dict[str, Any], notice: str, told: int) -> str:
    """Ask before a change that mails everyone registered or waiting: how many, old → new."""
    back = url_for(".seminar_edit", seminar_id=seminar.id)
    if notice == "cancelled_by_secretariat":
        return confirmation(title=_("セミナーを中止します"),
                            message=_("中止すると、参加登録者とキャンセル待ちの方に中止のお知らせをメールで送ります。"),
                            action=back, button=_("中止してメールを送る"), back=back, mails=told, carry=True)
    if notice == "unpublished":
        return confirmation(title=_("セミナーを非公開にします"),
                            message=_("非公開にすると、参加登録者とキャンセル待ちの方にお知らせをメールで送り、"
                                      "カレンダーからも取り消します。"),
                            action=back, button=_("非公開にしてメールを送る"), back=back, mails=told, carry=True)
    if notice == "updated":
        return confirmation(title=_("参加登録者にお知らせします"),
                            message=_("参加用リンクや公開状態が変わるため、参加登録者に最新の予定をメールで送ります。"),
                            action=back, button=_("変更してメールを送る"), back=back, mails=told, carry=True)
    new = date_label(values["date_on"], values["precision"], _local_time(values["starts_at"]),
                     _local_time(values["ends_at"]), with_year=True)
    offset = operations.program_offset(seminar.starts_at, values["starts_at"])
    details = [_("変更前: %(when)s", when=seminar.label(with_year=True)), _("変更後: %(when)s", when=new)]
    if offset is not None and seminar.program:
        details.append(_("プログラムの各項目も同じだけ（%(minutes)s分）移動します。",
                         minutes=f"{int(offset.total_seconds() // 60):+d}"))
    return confirmation(title=_("日時を変更します"),
                        message=_("公開中のセミナーの日時を変更すると、参加登録者とキャンセル待ちの方に"
                                  "変更前と変更後の日時をメールでお知らせします。"),
                        action=back, button=_("変更してメールを送る"), back=back, mails=told, carry=True,
                        details=details)


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
        material_form=_material_form(seminar), attendance=queries.attendance(seminar),
    )


@bp.get("/seminars/<int:seminar_id>")
def manage(seminar_id: int) -> ResponseReturnValue:
    return _manage_page(seminar_for_page(seminar_id))


def _row_action(form_page: Any) -> ResponseReturnValue | None:
    """A row button of the program item's editor (行を追加, 削除, ↑, ↓): the editor shown again
    with its rows changed, nothing saved; None when the form was submitted to be saved."""
    action = request.form.get("row")
    if action is None:
        return None
    data = rearranged(request.form, action)
    if data is None:
        abort(400)
    return form_page(ProgramItemForm(formdata=data))


@bp.post("/seminars/<int:seminar_id>/program")
def program_add(seminar_id: int) -> ResponseReturnValue:
    seminar = get_or_404(Seminar, seminar_id)
    rows = _row_action(lambda form: _manage_page(seminar, form))
    if rows is not None:
        return rows
    form = ProgramItemForm()
    if not form.validate_on_submit():
        return _manage_page(seminar, form), 422
    with unit_of_work(form) as work:
        operations.save_program_item(seminar, None, **form.values(), by=_actor())
    if not work.ok:
        return _manage_page(seminar, form), 422
    flash(_("プログラムに項目を追加しました。"), "success")
    return _to_manage(seminar_id, "#program")


@bp.route("/program/<int:item_id>/edit", methods=["GET", "POST"])
def program_edit(item_id: int) -> ResponseReturnValue:
    item = get_or_404(ProgramItem, item_id)
    rows = _row_action(lambda form: render_template("secretariat/program_item_form.html", form=form, item=item))
    if rows is not None:
        return rows
    form = ProgramItemForm.from_item(item)
    if form.validate_on_submit():
        seminar_id = item.seminar_id
        with unit_of_work(form) as work:
            operations.save_program_item(item.seminar, item, **form.values(), by=_actor())
        if work.ok:
            flash(_("プログラムを更新しました。"), "success")
            return _to_manage(seminar_id, "#program")
    return render_form("secretariat/program_item_form.html", form, item=item)


@bp.post("/program/<int:item_id>/move")
def program_move(item_id: int) -> ResponseReturnValue:
    item = get_or_404(ProgramItem, item_id)
    seminar_id = item.seminar_id
    with unit_of_work():
        operations.move_program_item(item, -1 if request.form.get("direction") == "up" else 1, by=_actor())
    return _to_manage(seminar_id, "#program")


@bp.get("/program/<int:item_id>/delete")
def program_delete_confirm(item_id: int) -> ResponseReturnValue:
    item = get_or_404(ProgramItem, item_id)
    return confirmation(
        title=_("プログラムの項目を削除します"),
        message=ja_message(_("「%(title)s」（%(at)s）を削除します。元に戻すことはできません。"),
                           plain={"at": format_time(item.start_time) or "—"},
                           title=item.title),
        action=url_for(".program_delete", item_id=item.id), button=_("削除する"),
        back=url_for(".manage", seminar_id=item.seminar_id) + "#program", mails=0)


@bp.post("/program/<int:item_id>/delete")
def program_delete(item_id: int) -> ResponseReturnValue:
    item = get_or_404(ProgramItem, item_id)
    seminar_id = item.seminar_id
    with unit_of_work():
        operations.remove_program_item(item, by=_actor())
    flash(_("プログラムの項目を削除しました。"), "info")
    return _to_manage(seminar_id, "#program")


@bp.get("/seminars/<int:seminar_id>/preview")
def preview(seminar_id: int) -> ResponseReturnValue:
    """The public page as a visitor will see it (no join link, no forms), before publishing."""
    seminar = seminar_for_page(seminar_id)
    return render_template(
        "seminars/detail.html", seminar=seminar, registered=False, waiting=False, seats=queries.seats(seminar),
        closed_reason=None, form=None, can_take_part_in_qa=False, faq=[], downloadable=set(),
        materials_of=materials_by_item(seminar), preview=True, publish_form=ActionForm(),
    )


@bp.post("/seminars/<int:seminar_id>/publish")
def publish(seminar_id: int) -> ResponseReturnValue:
    seminar = get_or_404(Seminar, seminar_id)
    submitted(ActionForm())
    with unit_of_work() as work:
        operations.update_seminar(seminar, {"status": SeminarStatus.PUBLISHED}, by=_actor())
    if work.ok:
        # Published: offer the 開催案内 (preview, segment, time), as the edit form does.
        flash(_("セミナーを公開しました。開催案内メールを送りましょう。"), "success")
        return redirect(url_for("secretariat.announcements.compose", seminar_id=seminar_id))
    return _to_manage(seminar_id)


@bp.get("/seminars/<int:seminar_id>/registrants.csv")
def registrants_csv(seminar_id: int) -> ResponseReturnValue:
    seminar = get_or_404(Seminar, seminar_id)
    with unit_of_work():  # the export is recorded before anything is handed out
        record("export.registrants", actor_id=current_user.id, subject=f"seminar:{seminar.id}", ip=client_address())
    return csv_response(exports.registrants_csv(seminar), f"registrants-{seminar.key}")


@bp.post("/seminars/<int:seminar_id>/mail")
def registrants_mail(seminar_id: int) -> ResponseReturnValue:
    """Mail everyone registered in three steps: a preview saying how many it mails (the
    default), a test send to oneself, and the send itself (only from the preview)."""
    seminar = get_or_404(Seminar, seminar_id)
    form = MailRegistrantsForm()
    if not form.validate_on_submit():
        flash(_("件名と本文を入力してください。"), "error")
        return _to_manage(seminar_id, "#registrants")
    subject, body = (form.subject.data or "").strip(), form.body.data or ""
    step = request.form.get("step", "preview")
    if step == "send" and is_confirmed():
        with unit_of_work():
            count = notifications.mail_registrants(seminar, subject, body)
            record("seminar.mailed", actor_id=current_user.id, subject=f"seminar:{seminar.id}", ip=client_address(),
                   details={"seminar": seminar.title or "", "mail_subject": subject, "recipients": count})
        flash(_("参加登録者 %(count)s 名にメールを送信します。", count=count), "success")
        return _to_manage(seminar_id, "#registrants")
    tested = False
    if step == "test":
        with unit_of_work():
            notifications.mail_test(current_user.email, subject, body)
        tested = True
    return render_template("secretariat/mail_preview.html", seminar=seminar, form=form, subject=subject, body=body,
                           count=notifications.registrants_to_mail(seminar), tested=tested)


def _material_form(seminar: Seminar) -> MaterialForm:
    form = MaterialForm()
    form.program_item_id.choices = [(0, _("（セミナー全体）"), {})] + [
        ja_choice(item.id, f"{format_time(item.start_time)} {item.title}".strip()) for item in seminar.program
    ]
    return form


@bp.post("/seminars/<int:seminar_id>/materials")
def material_upload(seminar_id: int) -> ResponseReturnValue:
    seminar = get_or_404(Seminar, seminar_id)
    form = _material_form(seminar)
    item_id = form.program_item_id.data if form.program_item_id.data in {i.id for i in seminar.program} else None
    upload_from_form(form, seminar_id=seminar_id, program_item_id=item_id)
    return _to_manage(seminar_id, "#materials")


@bp.get("/materials/<int:material_id>/delete")
def material_delete_confirm(material_id: int) -> ResponseReturnValue:
    material = get_or_404(Material, material_id)
    return confirmation(
        title=_("資料を削除します"),
        message=ja_message(_("「%(title)s」（%(file)s）を削除します。元に戻すことはできません。"),
                           title=material.title, file=material.filename),
        action=url_for(".material_delete", material_id=material.id), button=_("削除する"),
        back=url_for(".manage", seminar_id=material.seminar_id) + "#materials", mails=0)


@bp.post("/materials/<int:material_id>/delete")
def material_delete(material_id: int) -> ResponseReturnValue:
    material = get_or_404(Material, material_id)
    seminar_id = material.seminar_id
    with unit_of_work():
        record("material.deleted", actor_id=current_user.id, subject=f"seminar:{seminar_id}", ip=client_address(),
               details={"material": material.title, "file": material.filename})
        storage.delete_material(material)
    flash(_("資料を削除しました。"), "info")
    return _to_manage(seminar_id, "#materials")


def _attendance_page(seminar: Seminar, form: AttendanceImportForm,
                     result: operations.AttendanceImport | None = None) -> str:
    return render_template(
        "secretariat/attendance.html", seminar=seminar, registrations=queries.registered_for_attendance(seminar),
        attendance=queries.attendance(seminar), problem=operations.attendance_problem(seminar),
        form=form, list_form=ActionForm(), result=result)


@bp.route("/seminars/<int:seminar_id>/attendance", methods=["GET", "POST"])
def attendance(seminar_id: int) -> ResponseReturnValue:
    """The registered people with a 出席 checkbox each; a POST saves exactly the ticked ones."""
    seminar = get_or_404(Seminar, seminar_id)
    if request.method == "GET":
        return _attendance_page(seminar, AttendanceImportForm())
    submitted(ActionForm())
    ticked = request.form.getlist("attended")
    if not all(value.isdigit() and len(value) < 10 for value in ticked):
        abort(400)  # the page only offers registration ids
    with unit_of_work() as work:
        present, absent = operations.record_attendance(seminar, {int(v) for v in ticked}, by=_actor())
    if work.ok:
        flash(_("出席を保存しました（出席 %(a)s名・欠席 %(b)s名）。", a=present, b=absent), "success")
    return redirect(url_for(".attendance", seminar_id=seminar_id))


@bp.post("/seminars/<int:seminar_id>/attendance/import")
def attendance_import(seminar_id: int) -> ResponseReturnValue:
    """A webinar's attendance report (CSV): the page again, with who was marked and the
    addresses that are no registrant's; a bad file changes nothing and answers 422."""
    seminar = get_or_404(Seminar, seminar_id)
    form = AttendanceImportForm()
    result = None
    if form.validate_on_submit():
        upload = form.file.data
        with unit_of_work(form) as work:
            result = operations.import_attendance(seminar, upload.read(), upload.filename or "", by=_actor())
        if not work.ok:
            result = None
    return _attendance_page(seminar, form, result), 422 if form.errors else 200
