"""Public subcommittee pages."""

from __future__ import annotations

from flask import Blueprint, abort, render_template

from portal import access
from portal.subcommittees import services
from portal.subcommittees.models import SubcommitteeStatus

bp = Blueprint("subcommittees", __name__)


@bp.get("/subcommittees")
def overview():
    return render_template("subcommittees/overview.html", subcommittees=services.open_subcommittees())


@bp.get("/subcommittees/<slug>")
def detail(slug: str):
    sub = services.get_for_page(slug)
    if sub is None or (sub.status is not SubcommitteeStatus.ACTIVE and not access.can("secretariat")):
        abort(404)
    return render_template(
        "subcommittees/detail.html",
        sub=sub,
        quarter_of=services.quarter_of,
        quarters=services.QUARTER_LABELS,
        tl=services.timeline(sub),
    )
