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
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Config

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
    "RATELIMIT_LOGIN": "20 per minute; 200 per hour",
    "RATELIMIT_SIGNUP": "5 per minute; 30 per hour",
    "RATELIMIT_PASSWORD_RESET": "5 per minute; 30 per hour",
    "RATELIMIT_QUESTIONS": "10 per minute",
    # None: required when the portal is served over https (production), not on a local http demo.
    "TOTP_REQUIRED_FOR_SECRETARIAT": None,
    "LOGIN_MAX_FAILURES": 5,  # failures within the window before an address is locked
    "LOGIN_FAILURE_WINDOW_SECONDS": 15 * 60,
    "LOGIN_LOCK_SECONDS": 15 * 60,
    "PASSWORD_RESET_MAX_AGE_SECONDS": 60 * 60,
    "MATERIAL_MAX_BYTES": 20 * 1024 * 1024,
    "MAX_CONTENT_LENGTH": 25 * 1024 * 1024,  # larger requests get 413 before reaching a view
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SECURE": None,  # None: Secure whenever PORTAL_BASE_URL is https (production)
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=8),  # a log-in lasts a working day
    "SESSION_COOKIE_SAMESITE": "Lax",
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the session
}

# Booleans whose default None means "decided from PORTAL_BASE_URL at start".
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
    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(instance_path)


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
