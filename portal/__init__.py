"""The Smart City PPP Portal (官民連携プラットフォーム ポータル)."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, has_request_context, request, session
from flask_babel import lazy_gettext as _l
from jinja2 import pass_context
from sqlalchemy import event
from sqlalchemy.engine import Engine
from werkzeug.local import LocalProxy
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from portal.core.config import configure
from portal.web.cookies import SessionCookies


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Application factory: configuration, extensions, blueprints, CLI."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = Flask(
        __name__,
        instance_path=os.path.join(root, "instance"),
        instance_relative_config=True,
        template_folder=os.path.join(root, "templates"),
        static_folder=os.path.join(root, "static"),
    )
    os.makedirs(app.instance_path, exist_ok=True)
    configure(app.config, app.instance_path, config)
    app.session_interface = SessionCookies()

    from portal.core.db import db
    from portal.extensions import babel, counters, csrf, limiter, login_manager, mail, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(root, "migrations"))
    login_manager.init_app(app)
    mail.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    counters.init_app(app)
    babel.init_app(app, locale_selector=select_locale, timezone_selector=lambda: "Asia/Tokyo")

    # Ids are 32-bit integers on PostgreSQL (and 64-bit on SQLite): a larger one in a URL names
    # nothing, so routing answers 404 before any query could overflow.
    app.url_map.converters["int"] = BoundedId
    _import_models()
    _configure_login(login_manager)
    _register_blueprints(app)
    _register_template_helpers(app)
    _register_error_handlers(app)
    _register_security(app)
    _register_cli(app)

    from portal.qa import live

    live.install(app)  # polls of the live Q&A list answered before Flask when they may be
    hops = app.config["PROXY_HOPS"]
    if hops:
        # Outermost: every layer inside (rate limits, the audit log through web.client) sees
        # the client as the trusted proxies forwarded it.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
    return app


class BoundedId(IntegerConverter):
    def __init__(self, url_map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def select_locale() -> str:
    from flask import current_app

    if not has_request_context():
        return "ja"  # CLI, workers and services called outside a request speak Japanese
    lang = session.get("lang")
    return lang if isinstance(lang, str) and lang in current_app.config["LANGUAGES"] else "ja"


@event.listens_for(Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """Foreign keys on; write-ahead logging, so readers never wait for a writer (the busy
    timeout, DATABASE_BUSY_TIMEOUT_MS through the engine's options, then only makes a writer
    wait for another writer, briefly)."""
    import sqlite3

    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        try:
            cursor.execute("PRAGMA journal_mode=WAL")  # kept by the file; "memory" for :memory:
        except sqlite3.OperationalError:  # a read-only file, or a writer switching it right now
            pass
        cursor.close()


def _import_models() -> None:
    # Every model must be imported before mappers configure and before Alembic compares.
    from portal.accounts import models as _accounts  # noqa: F401
    from portal.announcements import models as _announcements  # noqa: F401
    from portal.audit import models as _audit  # noqa: F401
    from portal.calendar import models as _calendar  # noqa: F401
    from portal.core import versions as _versions  # noqa: F401  (and its triggers, on create_all)
    from portal.mail import models as _mail  # noqa: F401
    from portal.materials import models as _materials  # noqa: F401
    from portal.qa import models as _qa  # noqa: F401
    from portal.seminars import models as _seminars  # noqa: F401
    from portal.subcommittees import models as _subcommittees  # noqa: F401


def _configure_login(login_manager) -> None:
    from portal.accounts.models import User

    login_manager.login_view = "accounts.login"
    login_manager.login_message = _l("このページを表示するにはログインしてください。")
    login_manager.localize_callback = str  # flash() needs a real str (the session cannot hold a lazy one)
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(user_id: str) -> User | None:
        from portal.accounts.authentication import session_user

        ident = user_id.partition(":")[0]
        # Only a session whose server-side record still exists: logout, a password change or
        # reset, a second factor enrolled or removed, a role change and deactivation delete
        # records; a record older than the absolute lifetime is refused too.
        if not ident.isdigit() or len(ident) > 10:
            return None
        return session_user(int(ident), session.get("sid"))


def _register_blueprints(app: Flask) -> None:
    from portal.accounts.views import bp as accounts_bp
    from portal.announcements.views import bp as announcements_bp
    from portal.calendar.views import bp as calendar_bp
    from portal.materials.views import bp as materials_bp
    from portal.public.views import bp as public_bp
    from portal.qa.views import bp as qa_bp
    from portal.secretariat.views import bp as secretariat_bp
    from portal.seminars.views import bp as seminars_bp
    from portal.subcommittees.views import bp as subcommittees_bp

    for bp in (public_bp, accounts_bp, calendar_bp, seminars_bp, subcommittees_bp, secretariat_bp, materials_bp, qa_bp,
               announcements_bp):
        app.register_blueprint(bp)


def _register_template_helpers(app: Flask) -> None:
    from flask_babel import get_locale

    from portal.calendar.links import google_calendar_url, outlook_calendar_url
    from portal.core.dates import format_day, format_time
    from portal.core.labels import label
    from portal.web.urls import external_url, external_url_for

    app.jinja_env.globals.update(
        get_locale=get_locale,
        google_calendar_url=google_calendar_url,
        outlook_calendar_url=outlook_calendar_url,
        format_day=format_day,
        format_time=format_time,
        external_url=external_url,
        external_url_for=external_url_for,
    )
    app.jinja_env.filters["label"] = label

    @app.context_processor
    def _viewer() -> dict[str, Any]:
        """What the base layout shows every viewer (its menu); pages get the rest from views."""
        from flask_login import current_user

        from portal.accounts.access import is_secretariat

        # Lazy: asked only where the menu is drawn (not on an error page drawn without the
        # database), and never for mails, which are rendered outside requests.
        return {"viewer_is_secretariat": LocalProxy(lambda: has_request_context() and is_secretariat(current_user))}

    from portal.web.lang import ja, ja_field

    # Japanese content (titles, names, texts as entered) marked lang="ja" on a screen in
    # another language: web/lang.py.
    app.add_template_filter(ja, "ja")
    app.add_template_global(ja_field, "ja_field")

    @app.template_filter("local_date")
    def _local_date(value):
        """An instant's day in Tokyo, for format_day (the one date style)."""
        from portal.core.dates import to_local

        return None if value is None else to_local(value).date()

    @app.template_filter("local")
    @pass_context
    def _local(context: Any, value: Any, part: str = "minutes") -> str:
        """An instant in the public style (core.dates); mails (.txt templates) always in Japanese."""
        from portal.core.dates import format_moment, to_local

        if value is None:
            return ""
        if part.startswith("%"):  # an explicit strftime format (a clock on a same-day list)
            return to_local(value).strftime(part)
        mail = (context.name or "").endswith(".txt")
        return format_moment(value, part=part, locale="ja" if mail else str(get_locale()))



ERROR_TEXT = {
    400: (_l("不正なリクエストです"),
          _l("送信内容を確認できませんでした。ページを再読み込みしてからもう一度お試しください。")),
    403: (_l("アクセスできません"), _l("このページを表示する権限がありません。")),
    404: (_l("ページが見つかりません"), _l("お探しのページは移動または削除された可能性があります。")),
    429: (_l("しばらくお待ちください"),
          _l("短時間に多くの操作がありました。少し時間をおいてからもう一度お試しください。")),
    500: (_l("エラーが発生しました"), _l("時間をおいてもう一度お試しください。")),
}


UPLOAD_ENDPOINTS = {"secretariat.seminars.material_upload", "subcommittees.material_upload",
                    "secretariat.seminars.attendance_import"}

def _register_security(app: Flask) -> None:
    from portal.core.config import is_production
    from portal.web.headers import security_headers

    production = is_production(app.config) or str(app.config.get("PORTAL_BASE_URL") or "").startswith("https://")
    # Secure cookies and the secretariat's second factor in production mode or over https.
    if app.config.get("SESSION_COOKIE_SECURE") is None:
        app.config["SESSION_COOKIE_SECURE"] = production
    if app.config.get("TOTP_REQUIRED_FOR_SECRETARIAT") is None:
        app.config["TOTP_REQUIRED_FOR_SECRETARIAT"] = production

    @app.before_request
    def _refuse_malformed_input() -> None:
        """NUL bytes (no database column takes them) and file parts sent to anything but an
        upload form are refused before any view sees them."""
        from flask import abort

        if "\x00" in request.path:
            abort(404)  # no such page or feed (a wrong feed token answers 404, as any other)
        values = list(request.args.values())
        if request.method == "POST":
            values += list(request.form.values())
            if request.files and request.endpoint not in UPLOAD_ENDPOINTS:
                abort(400)
        if any("\x00" in v for v in values):
            abort(400)

    @app.after_request
    def _headers(response):
        for name, value in security_headers(app.config):
            response.headers.setdefault(name, value)
        # What a logged-in account sees (a join link, a feed token, an inventory) is never kept
        # by a browser's history, a proxy or a shared gateway's cache.
        if "_user_id" in session and request.endpoint != "static" and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "private, no-store"
        # An answer that sets a cookie (a flashed message, a language choice) is one visitor's,
        # whatever the view meant: no shared cache may keep it.
        if session.modified and "public" in response.headers.get("Cache-Control", ""):
            response.headers["Cache-Control"] = "private, no-store"
        return response


def _register_error_handlers(app: Flask) -> None:
    from flask import Response, jsonify, render_template
    from flask_babel import force_locale
    from werkzeug.exceptions import HTTPException, SecurityError

    from portal.core.db import db
    from portal.core.errors import DomainError

    def render(code: int, description: str | None = None):
        title, message = ERROR_TEXT.get(code, (str(code), description or ""))
        if request.path.startswith("/api/"):
            with force_locale("ja"):  # the API's error payload stays Japanese
                return jsonify({"error": str(title), "status": code}), code
        return render_template("errors/error.html", code=code, title=title, message=message), code

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if exc.code in ERROR_TEXT:
            return render(exc.code, exc.description)
        return exc

    @app.errorhandler(SecurityError)
    def _untrusted_host(exc: SecurityError):
        """A Host outside TRUSTED_HOSTS: no URL can be built for it (no URL adapter), so no page
        with links; a plain answer that names no host."""
        return Response(str(ERROR_TEXT[400][0]) + "\n", 400, mimetype="text/plain")

    @app.errorhandler(500)
    def _server_error(exc):
        # The database may be what failed: this page must not need it. An account not loaded
        # yet is not loaded for it (Flask-Login's template context would load it eagerly).
        from flask import g

        if "_login_user" not in g:
            g._login_user = app.login_manager.anonymous_user()
        return render(500)

    @app.errorhandler(DomainError)
    def _refused(exc: DomainError):
        """A refusal that no view's unit of work caught: nothing was committed (the request's
        session ends with a rollback); the API answers JSON, a page the error page with 422."""
        db.session.rollback()
        if request.path.startswith("/api/"):
            return jsonify({"error": str(exc), "field": exc.field, "status": 422}), 422
        return render_template("errors/error.html", code=422, title=_l("処理できませんでした"), message=str(exc)), 422


def _register_cli(app: Flask) -> None:
    from portal.cli import portal_cli
    from portal.imports import cli as _imports_cli  # noqa: F401 - registers its commands
    from portal.mail.cli import mail_cli
    from portal.seminars import cli as _seminars_cli  # noqa: F401

    app.cli.add_command(portal_cli)
    app.cli.add_command(mail_cli)
