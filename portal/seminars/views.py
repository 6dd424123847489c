"""Public seminar pages: the annual schedule, one seminar, the JSON list."""

from __future__ import annotations

from flask import Blueprint, abort, jsonify, render_template, request
from flask_login import current_user

from portal import access
from portal.seminars import services
from portal.seminars.models import RegistrationState, SeminarStatus

bp = Blueprint("seminars", __name__)


@bp.get("/seminars")
def schedule():
    fy = request.args.get("fy", type=int)
    data = services.schedule(fy, include_drafts=access.can("view_draft"))
    return render_template("seminars/schedule.html", schedule=data)


@bp.get("/seminars/<int:seminar_id>")
def detail(seminar_id: int):
    seminar = services.get_for_page(seminar_id)
    if seminar is None or (seminar.status is SeminarStatus.DRAFT and not access.can("view_draft")):
        abort(404)
    registration = services.registration_of(seminar, current_user)
    return render_template(
        "seminars/detail.html",
        seminar=seminar,
        registration=registration,
        show_join_link=registration is not None and registration.state is RegistrationState.REGISTERED,
        counts=services.registration_counts(seminar),
    )


@bp.get("/api/v1/seminars")
def api_seminars():
    return jsonify({"seminars": services.api_list()})
