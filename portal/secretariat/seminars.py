"""Back office for the seminar series: schedule, seminars, programs, registrants, Q&A switch.

Routes hang on the secretariat blueprint, so its one access check covers them.
"""

from __future__ import annotations

from datetime import datetime

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from portal import access
from portal.audit.services import record
from portal.core.dates import TOKYO, Precision, format_time, local_datetime
from portal.core.db import db
from portal.materials import services as material_services
from portal.materials.forms import MaterialForm
from portal.materials.models import Material
from portal.materials.views import upload_from_form
from portal.secretariat.forms import ActionForm
from portal.secretariat.views import bp
from portal.seminars import services
from portal.seminars.forms import (
    GenerateForm,
    MailRegistrantsForm,
    ProgramItemForm,
    SeminarForm,
    SeriesForm,
)
from portal.seminars.models import ProgramItem, Seminar, SeminarSeries, SeminarStatus
from portal.seminars.views import requested_fiscal_year
from portal.web.client import client_address
from portal.web.responses import csv_response


def _utc(value: datetime | None) -> datetime | None:
    """A datetime-local form value is Tokyo wall-clock time."""
    return value.replace(tzinfo=TOKYO) if value else None


def _all_series() -> list[SeminarSeries]:
    return list(db.session.scalars(select(SeminarSeries).order_by(SeminarSeries.fiscal_year.desc(), SeminarSeries.name)))


def _seminar_form(seminar: Seminar | None = None) -> SeminarForm:
    series = _all_series()
    form = SeminarForm(obj=None, series_years={s.id: s.fiscal_year for s in series})
    form.series_id.choices = [(s.id, _("%(year)s年度 %(name)s", year=s.fiscal_year, name=s.name)) for s in series]
    if seminar is not None and request.method == "GET":
        form.series_id.data = seminar.series_id
        form.number.data = seminar.number
        form.title.data = seminar.title
        form.description.data = seminar.description
        form.precision.data = seminar.precision.value
        form.date.data = (
            seminar.date_on.isoformat() if seminar.precision is Precision.DAY
            else seminar.date_on.strftime("%Y-%m") if seminar.date_on else ""
        )
        form.start.data, form.end.data = seminar.start_time, seminar.end_time
        form.status.data = seminar.status.value
        form.capacity.data = seminar.capacity
        form.registration_open.data = seminar.registration_open
        form.registration_opens_at.data = _local_naive(seminar.registration_opens_at)
        form.registration_closes_at.data = _local_naive(seminar.registration_closes_at)
        form.join_url.data = seminar.join_url
        form.mailbox.data = seminar.mailbox
    return form


def _local_naive(value: datetime | None) -> datetime | None:
    return value.astimezone(TOKYO).replace(tzinfo=None) if value else None


def _seminar_values(form: SeminarForm) -> dict:
    precision = Precision(form.precision.data)
    day = form.parsed_date
    start = form.start.data if precision is Precision.DAY else None
    end = form.end.data if start else None
    return {
        "series_id": form.series_id.data,
        "number": form.number.data,
        "title": (form.title.data or "").strip() or None,
        "description": (form.description.data or "").strip() or None,
        "precision": precision,
        "date_on": day,
        "starts_at": local_datetime(day, start) if day and start else None,
        "ends_at": local_datetime(day, end) if day and end else None,
        "status": SeminarStatus(form.status.data),
        "capacity": form.capacity.data,
        "registration_open": form.registration_open.data,
        "registration_opens_at": _utc(form.registration_opens_at.data),
        "registration_closes_at": _utc(form.registration_closes_at.data),
        "join_url": (form.join_url.data or "").strip() or None,
        "mailbox": (form.mailbox.data or "").strip() or None,
    }


def _series_exists(name: str, fiscal_year: int, besides: int | None = None) -> bool:
    query = select(SeminarSeries.id).where(SeminarSeries.name == name, SeminarSeries.fiscal_year == fiscal_year)
    if besides is not None:
        query = query.where(SeminarSeries.id != besides)
    return db.session.scalar(query) is not None


@bp.get("/seminars")
def seminars():
    schedule = services.schedule(requested_fiscal_year(), include_drafts=True)
    return render_template("secretariat/seminars.html", schedule=schedule, series=_all_series(),
                           generate_form=GenerateForm(), form=ActionForm())


@bp.route("/series/new", methods=["GET", "POST"])
def series_new():
    form = SeriesForm()
    if form.validate_on_submit():
        if _series_exists(form.name.data.strip(), form.fiscal_year.data):
            form.fiscal_year.errors = [*form.fiscal_year.errors, _("この年度のシリーズは既にあります。")]
        else:
            series = SeminarSeries(name=form.name.data.strip(), fiscal_year=form.fiscal_year.data,
                                   description=(form.description.data or "").strip() or None)
            db.session.add(series)
            db.session.commit()
            flash(_("シリーズを作成しました。"), "success")
            return redirect(url_for(".seminars", fy=series.fiscal_year))
    return render_template("secretariat/series_form.html", form=form), 422 if form.errors else 200


@bp.route("/series/<int:series_id>/edit", methods=["GET", "POST"])
def series_edit(series_id: int):
    series = access.get_or_404(SeminarSeries, series_id)
    form = SeriesForm(obj=series)
    if form.validate_on_submit() and _series_exists(form.name.data.strip(), form.fiscal_year.data, besides=series.id):
        form.fiscal_year.errors = [*form.fiscal_year.errors, _("この年度のシリーズは既にあります。")]
    elif form.validate_on_submit():
        services.update_series(series, name=form.name.data.strip(), fiscal_year=form.fiscal_year.data,
                               description=(form.description.data or "").strip() or None)
        db.session.commit()
        flash(_("シリーズを更新しました。"), "success")
        return redirect(url_for(".seminars", fy=series.fiscal_year))
    return render_template("secretariat/series_form.html", form=form, series=series), 422 if form.errors else 200


@bp.post("/series/<int:series_id>/generate")
def series_generate(series_id: int):
    series = access.get_or_404(SeminarSeries, series_id)
    form = GenerateForm(fiscal_year=series.fiscal_year)
    if form.validate_on_submit():
        created = services.generate_bimonthly(series, form.parsed, form.count.data, form.start.data, form.end.data)
        db.session.commit()
        flash(_("隔月のセミナーを%(count)s件、下書きとして作成しました。", count=len(created)), "success")
    else:
        db.session.rollback()
        for field_errors in form.errors.values():
            for message in field_errors:
                flash(str(message), "error")  # validator messages may be lazy strings
    return redirect(url_for(".seminars", fy=series.fiscal_year))


@bp.route("/seminars/new", methods=["GET", "POST"])
def seminar_new():
    form = _seminar_form()
    if request.method == "GET" and request.args.get("series", type=int):
        form.series_id.data = request.args.get("series", type=int)
    if form.validate_on_submit():
        values = _seminar_values(form)
        series = db.session.get(SeminarSeries, values["series_id"])
        if values["number"] is None:
            values["number"] = services.next_number(series)
        seminar = Seminar(key=services.new_key(series, values["number"]), **values)
        db.session.add(seminar)
        db.session.commit()
        flash(_("セミナーを作成しました。"), "success")
        return redirect(url_for(".seminar_manage", seminar_id=seminar.id))
    return render_template("secretariat/seminar_form.html", form=form), 422 if form.errors else 200


@bp.route("/seminars/<int:seminar_id>/edit", methods=["GET", "POST"])
def seminar_edit(seminar_id: int):
    seminar = access.get_or_404(Seminar, seminar_id)
    form = _seminar_form(seminar)
    if form.validate_on_submit():
        changed = services.update_seminar(seminar, _seminar_values(form))
        db.session.commit()
        flash(_("セミナーを更新しました。") if changed else _("変更はありませんでした。"), "success" if changed else "info")
        return redirect(url_for(".seminar_manage", seminar_id=seminar.id))
    return render_template("secretariat/seminar_form.html", form=form, seminar=seminar), 422 if form.errors else 200


@bp.get("/seminars/<int:seminar_id>")
def seminar_manage(seminar_id: int):
    seminar = services.get_for_page(seminar_id) or abort(404)
    registrations = services.active_registrations(seminar)
    return render_template(
        "secretariat/seminar.html", seminar=seminar, registrations=registrations,
        by_kind=services.counts_by_organization_kind(registrations),
        item_form=ProgramItemForm(), mail_form=MailRegistrantsForm(), form=ActionForm(),
        material_form=_material_form(seminar),
    )


def _item_values(form: ProgramItemForm) -> dict:
    return {
        "start_time": form.start_time.data,
        "title": form.title.data.strip(),
        "points": services.lines(form.points.data),
        "notes": [n.lstrip("※") for n in services.lines(form.notes.data)],
        "presenters": services.parse_presenters(form.presenters.data),
    }


@bp.post("/seminars/<int:seminar_id>/program")
def program_add(seminar_id: int):
    seminar = access.get_or_404(Seminar, seminar_id)
    form = ProgramItemForm()
    if not form.validate_on_submit():
        registrations = services.active_registrations(seminar)
        return render_template(
            "secretariat/seminar.html", seminar=seminar, registrations=registrations,
            by_kind=services.counts_by_organization_kind(registrations),
            item_form=form, mail_form=MailRegistrantsForm(), form=ActionForm(),
            material_form=_material_form(seminar),
        ), 422
    services.save_program_item(seminar, None, **_item_values(form))
    db.session.commit()
    flash(_("プログラムに項目を追加しました。"), "success")
    return redirect(url_for(".seminar_manage", seminar_id=seminar.id) + "#program")


@bp.route("/program/<int:item_id>/edit", methods=["GET", "POST"])
def program_edit(item_id: int):
    item = access.get_or_404(ProgramItem, item_id)
    form = ProgramItemForm(obj=None if request.method == "POST" else item)
    if request.method == "GET":
        form.points.data = "\n".join(item.points)
        form.notes.data = "\n".join(item.notes)
        form.presenters.data = services.presenters_text(item)
    if form.validate_on_submit():
        services.save_program_item(item.seminar, item, **_item_values(form))
        db.session.commit()
        flash(_("プログラムを更新しました。"), "success")
        return redirect(url_for(".seminar_manage", seminar_id=item.seminar_id) + "#program")
    return render_template("secretariat/program_item_form.html", form=form, item=item), 422 if form.errors else 200


@bp.post("/program/<int:item_id>/move")
def program_move(item_id: int):
    item = access.get_or_404(ProgramItem, item_id)
    services.move_program_item(item, -1 if request.form.get("direction") == "up" else 1)
    db.session.commit()
    return redirect(url_for(".seminar_manage", seminar_id=item.seminar_id) + "#program")


@bp.post("/program/<int:item_id>/delete")
def program_delete(item_id: int):
    item = access.get_or_404(ProgramItem, item_id)
    seminar_id = item.seminar_id
    services.remove_program_item(item)
    db.session.commit()
    flash(_("プログラムの項目を削除しました。"), "info")
    return redirect(url_for(".seminar_manage", seminar_id=seminar_id) + "#program")


@bp.get("/seminars/<int:seminar_id>/registrants.csv")
def registrants_csv(seminar_id: int):
    seminar = access.get_or_404(Seminar, seminar_id)
    record("export.registrants", actor_id=current_user.id, subject=f"seminar:{seminar.id}", ip=client_address())
    db.session.commit()
    return csv_response(services.registrants_csv(seminar), f"registrants-{seminar.key}")


@bp.post("/seminars/<int:seminar_id>/mail")
def registrants_mail(seminar_id: int):
    seminar = access.get_or_404(Seminar, seminar_id)
    form = MailRegistrantsForm()
    if form.validate_on_submit():
        count = services.mail_registrants(seminar, form.subject.data.strip(), form.body.data)
        db.session.commit()
        flash(_("参加登録者 %(count)s 名にメールを送信します。", count=count), "success")
    else:
        flash(_("件名と本文を入力してください。"), "error")
    return redirect(url_for(".seminar_manage", seminar_id=seminar.id))


def _material_form(seminar: Seminar) -> MaterialForm:
    form = MaterialForm()
    form.program_item_id.choices = [(0, _("（セミナー全体）"))] + [
        (item.id, f"{format_time(item.start_time)} {item.title}".strip()) for item in seminar.program
    ]
    return form


@bp.post("/seminars/<int:seminar_id>/materials")
def material_upload(seminar_id: int):
    seminar = access.get_or_404(Seminar, seminar_id)
    form = _material_form(seminar)
    item_id = form.program_item_id.data if form.program_item_id.data in {i.id for i in seminar.program} else None
    upload_from_form(form, seminar_id=seminar.id, program_item_id=item_id)
    return redirect(url_for(".seminar_manage", seminar_id=seminar.id) + "#materials")


@bp.post("/materials/<int:material_id>/delete")
def material_delete(material_id: int):
    material = access.get_or_404(Material, material_id)
    seminar_id = material.seminar_id
    material_services.delete_material(material)
    db.session.commit()
    flash(_("資料を削除しました。"), "info")
    return redirect(url_for(".seminar_manage", seminar_id=seminar_id) + "#materials")
