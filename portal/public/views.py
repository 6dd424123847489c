"""Home, health check, language choice."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, session
from sqlalchemy import text

from portal.core.db import db
from portal.mail.queries import health as mail_health
from portal.seminars.queries import upcoming
from portal.subcommittees.queries import open_subcommittees
from portal.web.redirects import safe_next

bp = Blueprint("public", __name__)


@bp.get("/")
def home():
    return render_template(
        "public/home.html", seminars=upcoming(), subcommittees=open_subcommittees()
    )


@bp.get("/healthz")
def healthz():
    try:
        db.session.execute(text("SELECT 1"))
    except Exception:
        db.session.rollback()
        return jsonify({"status": "error", "database": "error"}), 503
    return jsonify({"status": "ok", "database": "ok", **mail_health()})


@bp.get("/language/<lang>")
def language(lang: str):
    """A plain link, not a form: it only sets a display preference, so anonymous pages need
    no session (and no CSRF token) at all."""
    if lang not in current_app.config["LANGUAGES"]:
        abort(404)
    session["lang"] = lang
    return redirect(safe_next(request.args.get("next")) or "/")
