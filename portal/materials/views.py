"""Downloads of materials, with the access rule in one place."""

from __future__ import annotations

from flask import Blueprint, abort, send_file

from portal import access
from portal.materials import services
from portal.materials.models import Material

bp = Blueprint("materials", __name__)


def _hidden_seminar(material: Material) -> bool:
    from portal.extensions import db
    from portal.seminars.models import Seminar, SeminarStatus

    seminar = db.session.get(Seminar, material.seminar_id) if material.seminar_id else None
    return seminar is not None and seminar.status is SeminarStatus.DRAFT


@bp.get("/materials/<int:material_id>")
def download(material_id: int):
    material = access.get_or_404(Material, material_id)
    if _hidden_seminar(material) and not access.can("secretariat"):
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
