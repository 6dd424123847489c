"""Home, health check, language choice."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, redirect, render_template, request, session

from portal.core import versions
from portal.core.dates import today_local
from portal.core.db import db
from portal.core.health import database_answers
from portal.mail.queries import health as mail_health
from portal.seminars.queries import upcoming
from portal.subcommittees.queries import open_subcommittees
from portal.web.conditional import shared
from portal.web.redirects import safe_next

bp = Blueprint("public", __name__)


@bp.get("/")
def home():
    # The next seminars are today's.
    return shared(
        lambda: versions.validator("home", today_local(), scopes=("seminars", "seminar_series", "subcommittees")),
        lambda: render_template("public/home.html", seminars=upcoming(), subcommittees=open_subcommittees()),
        last_modified=False)


@bp.get("/healthz")
def healthz():
    # Within HEALTH_DATABASE_TIMEOUT_MS whatever hangs (a lock, the pool, the server): core.health.
    if not database_answers(db.engine, current_app.config["HEALTH_DATABASE_TIMEOUT_MS"]):
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


# Site pages a Japanese public portal carries. Their bodies are Japanese documents (a policy, a
# conformance statement); English mode translates the titles and marks the bodies lang="ja".
SITE_PAGES = {
    "privacy": "public/privacy.html",
    "terms": "public/terms.html",
    "accessibility": "public/accessibility.html",
    "contact": "public/contact.html",
}


@bp.get("/privacy")
def privacy():
    return render_template(SITE_PAGES["privacy"])


@bp.get("/terms")
def terms():
    return render_template(SITE_PAGES["terms"])


@bp.get("/accessibility")
def accessibility():
    return render_template(SITE_PAGES["accessibility"])


@bp.get("/contact")
def contact():
    return render_template(SITE_PAGES["contact"], address=current_app.config["SECRETARIAT_EMAIL"])


@bp.get("/sitemap")
def sitemap():
    from portal.seminars.queries import fiscal_years

    return render_template("public/sitemap.html", subcommittees=open_subcommittees(), years=fiscal_years())
