"""Downloads of materials, and the one upload flow every owner's back office uses."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, send_file
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user

from portal.audit.services import record
from portal.materials import storage
from portal.materials.access import is_visible, may_download
from portal.materials.forms import MaterialForm
from portal.materials.models import Material
from portal.web.access import get_or_404, require
from portal.web.client import client_address
from portal.web.uow import unit_of_work

bp = Blueprint("materials", __name__)


@bp.get("/materials/<int:material_id>")
def download(material_id: int) -> ResponseReturnValue:
    material = get_or_404(Material, material_id, visible=is_visible)
    require(may_download(current_user, material))
    path = storage.path_of(material)
    if not path.exists():
        abort(404)
    response = send_file(path, mimetype=material.content_type, as_attachment=True,
                         download_name=material.filename, max_age=0)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Cache-Control"] = "private, no-store" if not material.public else "public, max-age=300"
    return response


def upload_from_form(form: MaterialForm, **owner: Any) -> bool:
    """The one upload flow for every owner (seminar, program item, subcommittee): check, store,
    commit, and tell the uploader what happened (the form sits on a page: messages are flashed).
    True when the file was stored."""
    if not form.validate_on_submit():
        flash(" ".join(str(m) for errors in form.errors.values() for m in errors), "error")
        return False
    with unit_of_work() as work:
        material = storage.save_material(form.file.data.stream, form.file.data.filename or "",
                                         title=form.title.data or "", public=form.public.data,
                                         uploaded_by_id=current_user.id, **owner)
        owner_of = (f"seminar:{owner['seminar_id']}" if owner.get("seminar_id")
                    else f"subcommittee:{owner.get('subcommittee_id')}")
        record("material.uploaded", actor_id=current_user.id, subject=owner_of, ip=client_address(),
               details={"material": material.title, "file": material.filename,
                        "public": "一般公開" if material.public else "会員限定"})
    if work.ok:
        flash(_("資料をアップロードしました。"), "success")
    return work.ok
