"""Home, health check, language choice."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, render_template, request, session
from flask_wtf import FlaskForm
from sqlalchemy import text

from portal.extensions import db
from portal.seminars.services import upcoming
from portal.subcommittees.services import open_subcommittees
from portal.urls import safe_next

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
    return jsonify({"status": "ok", "database": "ok"})


@bp.post("/language")
def language():
    form = FlaskForm()
    if form.validate_on_submit() and request.form.get("lang") in current_app.config["LANGUAGES"]:
        session["lang"] = request.form["lang"]
    return redirect(safe_next(request.form.get("next")) or "/")
