"""Downloads of materials, with the access rule in one place."""

from __future__ import annotations

from flask import Blueprint, abort, flash, send_file
from flask_babel import gettext as _
from flask_login import current_user

from portal import access
from portal.accounts.access import is_secretariat
from portal.core.db import db
from portal.materials import services
from portal.materials.models import Material
from portal.seminars.models import Seminar, SeminarStatus

bp = Blueprint("materials", __name__)


def _hidden_seminar(material: Material) -> bool:
    seminar = db.session.get(Seminar, material.seminar_id) if material.seminar_id else None
    return seminar is not None and seminar.status is SeminarStatus.DRAFT


@bp.get("/materials/<int:material_id>")
def download(material_id: int):
    material = access.get_or_404(Material, material_id)
    if _hidden_seminar(material) and not is_secretariat(current_user):
        abort(404)  # a draft seminar's file does not exist for others
    access.require("download_material", material)
    path = services.path_of(material)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype=material.content_type, as_attachment=True,
                         download_name=material.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store" if not material.public else "public, max-age=300"
    return response


def upload_from_form(form, **owner) -> None:
    """The one upload flow for every owner (seminar, program item, subcommittee): check, store,
    commit, and tell the uploader what happened."""
    if not form.validate_on_submit():
        flash(" ".join(str(m) for errors in form.errors.values() for m in errors), "error")
        return
    try:
        services.save_material(form.file.data.stream, form.file.data.filename or "", title=form.title.data or "",
                               public=form.public.data, uploaded_by_id=current_user.id, **owner)
    except services.MaterialRejected as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(_("資料をアップロードしました。"), "success")
