"""The audit log in the back office (nested under the secretariat's blueprint and its guard)."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, render_template, request
from flask_login import current_user

from portal.audit import queries
from portal.audit.exports import audit_csv
from portal.audit.services import record
from portal.web.client import client_address
from portal.web.responses import csv_response
from portal.web.uow import unit_of_work

bp = Blueprint("audit", __name__)


@bp.get("/audit")
def log():
    q, action = request.args.get("q", ""), request.args.get("action", "")
    events = queries.events(q, action)
    return render_template("governance/audit.html", events=events, actors=queries.actors(events), q=q, action=action,
                           in_words=queries.in_words)


@bp.get("/audit.csv")
def log_csv():
    events = queries.events(request.args.get("q"), request.args.get("action"), limit=100_000)
    with unit_of_work():  # the export itself is audited
        record("export.audit", actor_id=current_user.id, ip=client_address(), details={"rows": len(events)})
    return csv_response(audit_csv(events), f"audit-{date.today():%Y%m%d}")
