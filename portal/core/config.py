"""Configuration: defaults, then Flask's own loaders.

Order of precedence (later wins): these defaults, ``instance/config.py`` (``from_pyfile``), the
plain variables DESIGN.md names (``DATABASE_URL``, ``SECRET_KEY``, ``MAIL_*``…), any
``PORTAL_<NAME>`` (``from_prefixed_env``), then the mapping passed to ``create_app`` (tests).

A setting read from the environment takes the type of its default: ``PORTAL_MAIL_RETRY_BASE_SECONDS=5``
is the number 5, ``MAIL_USE_TLS=yes`` is True. A value that cannot have that type stops the app
at start with a message naming the variable, instead of failing later in a request or a worker.
"""

from __future__ import annotations

import os
import re
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Config
from sqlalchemy.engine import make_url

# Variables DESIGN.md names without a prefix.
PLAIN_ENV = (
    "DATABASE_URL",
    "SECRET_KEY",
    "MAIL_SERVER",
    "MAIL_PORT",
    "MAIL_USE_TLS",
    "MAIL_USERNAME",
    "MAIL_PASSWORD",
    "MAIL_DEFAULT_SENDER",
    "SECRETARIAT_EMAIL",
    "PORTAL_BASE_URL",
)

DEFAULTS: dict[str, Any] = {
    # Recycle instead of pinging before every checkout (a round trip per request).
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_recycle": 1800},
    # How long anything waits on the database (see database_engine_options): a hung database,
    # a held lock or an exhausted pool answers an error page, never a worker held until
    # gunicorn's timeout (deploy/gunicorn.conf.py: 30 s) kills it.
    "DATABASE_CONNECT_TIMEOUT_SECONDS": 5,
    "DATABASE_STATEMENT_TIMEOUT_MS": 10_000,  # PostgreSQL, per statement (a page makes a few ms-long ones)
    "DATABASE_LOCK_TIMEOUT_MS": 5_000,  # PostgreSQL: waiting for a row or table another session holds
    "DATABASE_POOL_TIMEOUT_SECONDS": 10,  # waiting for a free connection of this process's pool
    "DATABASE_BUSY_TIMEOUT_MS": 5_000,  # SQLite: a writer waiting for another writer (readers never wait: WAL)
    "DATABASE_MIGRATION_STATEMENT_TIMEOUT_MS": 0,  # `flask db upgrade`: 0 = no limit (an index on a big table)
    "HEALTH_DATABASE_TIMEOUT_MS": 1_500,  # /healthz answers 503 when the database is not answering by then
    "MAIL_SERVER": None,  # None: messages are written as .eml files under instance/mail
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    "MAIL_USE_SSL": False,
    "MAIL_USERNAME": None,
    "MAIL_PASSWORD": None,
    "MAIL_DEFAULT_SENDER": "官民連携プラットフォーム事務局 <noreply@example.org>",
    "MAIL_SUPPRESS_SEND": False,
    "MAIL_TIMEOUT_SECONDS": 30.0,  # connect, each read and write, and each message's whole conversation
    "MAIL_RETRY_BASE_SECONDS": 15,  # first retry 15 s after a failure, then doubling
    "MAIL_RETRY_MAX_SECONDS": 3600,  # the back-off's ceiling: then retried at this interval until sent
    "MAIL_ALERT_AFTER_SECONDS": 30 * 60,  # unsent for longer: a banner in the back office, /healthz says so
    "MAIL_BATCH_SIZE": 50,
    "SECRETARIAT_EMAIL": "secretariat@example.org",
    "PORTAL_BASE_URL": None,  # None: the host of the current request (or 127.0.0.1:5000 off-request)
    # "production" (env PORTAL_ENV=production): PORTAL_BASE_URL is then required (the app refuses
    # to start without it), cookies are Secure and the secretariat needs its second factor.
    # "development" (the default: `make run`, tests): links may follow a trusted Host.
    "ENV": "development",
    "BABEL_DEFAULT_LOCALE": "ja",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Tokyo",
    "BABEL_TRANSLATION_DIRECTORIES": "../translations",
    "LANGUAGES": ["ja", "en"],
    # How many reverse proxies in front are trusted for X-Forwarded-For/-Proto/-Host (0: none,
    # a forged header changes nothing). The app behind deploy/nginx.conf runs with 1.
    "PROXY_HOPS": 0,
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "RATELIMIT_HEADERS_ENABLED": True,
    # Per client address. City halls share one address (a proxy, a prefecture's security cloud): 1,000
    # accounts must be able to log in from one address within 10 minutes. Guessing is slowed per account.
    "RATELIMIT_LOGIN": "300 per minute; 3000 per hour",
    "RATELIMIT_SIGNUP": "5 per minute; 30 per hour",
    "RATELIMIT_PASSWORD_RESET": "5 per minute; 30 per hour",
    "RATELIMIT_QUESTIONS": "10 per minute",
    # The live Q&A list is built once per process and served to every poller for this long (then
    # revalidated from the change counters): a vote shows within the 5 s poll plus this.
    "QA_LIVE_MAX_AGE_SECONDS": 0.5,
    # A poll that finds it older is served it as it is (at most this much more) and renews it
    # after its answer, so no poll waits for the read; a vote shows within 5 s + both.
    "QA_LIVE_STALE_SECONDS": 0.5,
    # None: required when the portal is served over https (production), not on a local http demo.
    "TOTP_REQUIRED_FOR_SECRETARIAT": None,
    # Wrong second-factor codes, per account in the shared counters: past TOTP_MAX_FAILURES within
    # the window each attempt waits (30 s doubling, at most 15 min), the right code included.
    "TOTP_MAX_FAILURES": 5,
    "TOTP_FAILURE_WINDOW_SECONDS": 15 * 60,
    "TOTP_DELAY_SECONDS": 30,
    "TOTP_MAX_DELAY_SECONDS": 15 * 60,
    # A secretariat account enrols its first authenticator through a link mailed to its address.
    "ENROLMENT_LINK_MAX_AGE_SECONDS": 15 * 60,
    "ENROLMENT_MAILS_PER_HOUR": 3,  # per account
    "SIGNUP_NOTICE_MAILS_PER_HOUR": 3,  # "someone tried to sign up with your address", per recipient
    # Wrong passwords slow down one account, never lock it: past the free failures within the window
    # (per account and client address; per account from anywhere) each attempt waits a growing delay
    # (LOGIN_DELAY_SECONDS, doubling up to LOGIN_MAX_DELAY_SECONDS), even with the right password.
    "LOGIN_MAX_FAILURES": 5,  # per account and client address
    "LOGIN_MAX_FAILURES_PER_ACCOUNT": 20,  # per account from every address together
    "LOGIN_FAILURE_WINDOW_SECONDS": 15 * 60,
    "LOGIN_DELAY_SECONDS": 2,
    "LOGIN_MAX_DELAY_SECONDS": 60,
    "PASSWORD_RESET_MAILS_PER_HOUR": 3,  # per recipient; requests beyond it are answered, not mailed
    "PASSWORD_RESET_MAX_AGE_SECONDS": 60 * 60,
    "MATERIAL_MAX_BYTES": 20 * 1024 * 1024,
    "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,  # larger requests get 413 before reaching a view
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": None,  # None: Secure whenever PORTAL_BASE_URL is https (production)
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),  # idle: the cookie's signature older than this is refused
    "SESSION_ABSOLUTE_LIFETIME_SECONDS": 12 * 3600,  # from log-in, however active (the loader refuses it)
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
}

LOCAL_HOSTS = ("127.0.0.1", "localhost")

ENVIRONMENTS = ("development", "production")

# Booleans whose default None means "decided at start" (production mode, or an https base URL).
TRI_STATE = {"TOTP_REQUIRED_FOR_SECRETARIAT", "SESSION_COOKIE_SECURE"}
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


class ConfigError(RuntimeError):
    """A setting that cannot be used; raised while the app is being created."""


def configure(config: Config, instance_path: str, overrides: dict[str, Any] | None = None) -> None:
    """Fill one app's configuration."""
    config.from_mapping(DEFAULTS)
    config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(instance_path, "portal.sqlite")
    config["MAIL_FILE_DIR"] = os.path.join(instance_path, "mail")
    config["UPLOAD_DIR"] = os.path.join(instance_path, "uploads")
    config.from_pyfile("config.py", silent=True)

    from_environment: dict[str, str] = {}  # plain names DESIGN.md lists
    for name in PLAIN_ENV:
        if os.environ.get(name):
            from_environment[name] = os.environ[name]
            config[name] = os.environ[name]
    config.from_prefixed_env("PORTAL")
    config.pop("BASE_URL", None)  # PORTAL_BASE_URL is a plain name (above), not BASE_URL
    prefixed = {k.removeprefix("PORTAL_") for k in os.environ if k.startswith("PORTAL_") and "__" not in k}
    for name in (from_environment.keys() | prefixed) - {"BASE_URL"}:
        config[name] = typed(name, config[name], DEFAULTS.get(name))
    if config.get("DATABASE_URL"):
        config["SQLALCHEMY_DATABASE_URI"] = config["DATABASE_URL"]

    if overrides:
        config.update(overrides)
        if "DATABASE_URL" in overrides:
            config["SQLALCHEMY_DATABASE_URI"] = overrides["DATABASE_URL"]
    check_environment(config)
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(instance_path)
    config["SQLALCHEMY_ENGINE_OPTIONS"] = database_engine_options(config)
    if not config.get("PORTAL_BASE_URL") and config.get("TRUSTED_HOSTS") is None:
        # Links follow the request's Host only when no base URL is configured: then only the
        # local demo's hosts are served (another Host gets 400), so a forged Host never reaches
        # a mailed link or the stored answers. ([::1] cannot be listed: Werkzeug cuts a trusted
        # name at its first colon.) Production sets PORTAL_BASE_URL, or PORTAL_TRUSTED_HOSTS.
        config["TRUSTED_HOSTS"] = list(LOCAL_HOSTS)
    elif isinstance(config.get("TRUSTED_HOSTS"), str):  # PORTAL_TRUSTED_HOSTS=a.example,b.example
        config["TRUSTED_HOSTS"] = [h for h in re.split(r"[,\s]+", config["TRUSTED_HOSTS"]) if h]


def is_production(config: Config | dict[str, Any]) -> bool:
    return config.get("ENV") == "production"


def check_environment(config: Config) -> None:
    """Production mode (PORTAL_ENV=production) refuses to start without PORTAL_BASE_URL: links
    in mails, feeds and the API must never come from a request's Host header."""
    if config.get("ENV") not in ENVIRONMENTS:
        raise ConfigError(f"ENV (PORTAL_ENV): expected one of {', '.join(ENVIRONMENTS)}, got {config.get('ENV')!r}")
    if not is_production(config):
        return
    base = str(config.get("PORTAL_BASE_URL") or "")
    if not base:
        raise ConfigError("PORTAL_BASE_URL is required in production (PORTAL_ENV=production): "
                          "set it to the portal's public address, e.g. https://portal.example.jp")
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"PORTAL_BASE_URL: expected an absolute http(s) URL, got {base!r}")


def database_engine_options(config: Config) -> dict[str, Any]:
    """SQLAlchemy's engine options with the database timeouts above merged in (options a
    deployment or a test gives explicitly win). The one place the timeouts are applied; the
    health probe (core.health) and migrations (migrations/env.py) tighten or lift them.

    The CLI (imports, demo, mail delivery) runs with the same values: a statement timeout is per
    statement, and a whole-file import is many short statements in one transaction, so it never
    comes near 10 s; only a migration may run one long statement (a new index on a big table),
    and migrations lift the statement timeout while keeping the lock timeout (a migration that
    cannot get its table soon gives up instead of queueing every page behind it). A one-off
    heavy job can still set PORTAL_DATABASE_STATEMENT_TIMEOUT_MS for its own process.
    """
    options = dict(config.get("SQLALCHEMY_ENGINE_OPTIONS") or {})
    url = make_url(config["SQLALCHEMY_DATABASE_URI"])
    connect_args = dict(options.get("connect_args") or {})
    backend = url.get_backend_name()
    if backend == "postgresql":
        if "connect_timeout" not in url.query:
            connect_args.setdefault("connect_timeout", config["DATABASE_CONNECT_TIMEOUT_SECONDS"])
        given = str(connect_args.get("options") or url.query.get("options") or "")  # ?options=… in the URL too
        limits = [f"-c {name}={config[key]}" for name, key in (
            ("statement_timeout", "DATABASE_STATEMENT_TIMEOUT_MS"), ("lock_timeout", "DATABASE_LOCK_TIMEOUT_MS"))
            if name not in given]
        connect_args["options"] = " ".join([given, *limits]).strip()
    elif backend == "sqlite":
        connect_args.setdefault("timeout", config["DATABASE_BUSY_TIMEOUT_MS"] / 1000)  # the busy timeout
    options["connect_args"] = connect_args
    in_memory = backend == "sqlite" and url.database in (None, "", ":memory:")
    if not in_memory and "poolclass" not in options:  # only a queue pool takes a checkout timeout
        options.setdefault("pool_timeout", config["DATABASE_POOL_TIMEOUT_SECONDS"])
    return options


def typed(name: str, value: Any, default: Any) -> Any:
    """``value`` (from the environment) with the type of ``default``, or ConfigError."""
    text = str(value).strip().lower()
    if name in TRI_STATE:  # None (decided at start), or a boolean given
        default = False
    if default is None or (isinstance(value, type(default)) and not isinstance(default, bool)):
        return value
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
        if text in TRUE_WORDS | FALSE_WORDS:
            return text in TRUE_WORDS
        raise ConfigError(f"{name}: expected true or false, got {value!r}")
    if isinstance(default, int | float | timedelta):
        try:
            number = float(value) if isinstance(default, float | timedelta) else int(str(value).strip())
        except ValueError:
            raise ConfigError(f"{name}: expected a number, got {value!r}") from None
        return timedelta(seconds=number) if isinstance(default, timedelta) else number
    if isinstance(default, str):
        return str(value)
    raise ConfigError(f"{name}: cannot be set from the environment")


def _instance_secret(instance_path: str) -> str:
    """A random key generated once into instance/, so no key lives in the code."""
    path = Path(instance_path, "secret_key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process won the race; use its key
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
    return path.read_text().strip()
