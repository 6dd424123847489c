"""Downloads of materials, with the access rule in one place."""

from __future__ import annotations

from flask import Blueprint, abort, send_file

from portal import access
from portal.materials import services
from portal.materials.models import Material

bp = Blueprint("materials", __name__)


@bp.get("/materials/<int:material_id>")
def download(material_id: int):
    material = access.get_or_404(Material, material_id)
    access.require("download_material", material)
    path = services.path_of(material)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype=material.content_type, as_attachment=True,
                         download_name=material.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store" if not material.public else "public, max-age=300"
    return response
