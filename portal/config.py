"""Configuration defaults.

Order of precedence (later wins): these defaults, ``instance/config.py``, ``PORTAL_*`` and the
plain variables listed in DESIGN.md (``DATABASE_URL``, ``SECRET_KEY``, ``MAIL_*``…), then the
mapping passed to ``create_app`` (tests).
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Any

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
    "MAIL_MAX_ATTEMPTS": 8,
    "MAIL_RETRY_BASE_SECONDS": 15,  # first retry 15 s after a failure, then doubling
    "MAIL_BATCH_SIZE": 50,
    "SECRETARIAT_EMAIL": "secretariat@example.org",
    "PORTAL_BASE_URL": None,  # None: the host of the current request (or 127.0.0.1:5000 off-request)
    "BABEL_DEFAULT_LOCALE": "ja",
    "BABEL_DEFAULT_TIMEZONE": "Asia/Tokyo",
    "BABEL_TRANSLATION_DIRECTORIES": "../translations",
    "LANGUAGES": ["ja", "en"],
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

_BOOL = {"MAIL_USE_TLS", "MAIL_USE_SSL", "RATELIMIT_ENABLED", "TOTP_REQUIRED_FOR_SECRETARIAT", "SESSION_COOKIE_SECURE"}
_INT = {"MAIL_PORT", "MATERIAL_MAX_BYTES", "MAX_CONTENT_LENGTH"}


def _coerce(name: str, value: str) -> Any:
    if name in _BOOL:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if name in _INT:
        return int(value)
    return value


def load(instance_path: str, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the configuration mapping for one app."""
    config = dict(DEFAULTS)
    config["SQLALCHEMY_DATABASE_URI"] = "sqlite:///" + os.path.join(instance_path, "portal.sqlite")
    config["MAIL_FILE_DIR"] = os.path.join(instance_path, "mail")
    config["UPLOAD_DIR"] = os.path.join(instance_path, "uploads")

    local = Path(instance_path, "config.py")
    if local.exists():
        namespace: dict[str, Any] = {}
        exec(compile(local.read_text(), str(local), "exec"), namespace)
        config.update({k: v for k, v in namespace.items() if k.isupper()})

    for name in PLAIN_ENV:
        if os.environ.get(name):
            config[name] = _coerce(name, os.environ[name])
    for name, value in os.environ.items():
        if name.startswith("PORTAL_") and name != "PORTAL_BASE_URL":
            key = name.removeprefix("PORTAL_")
            config[key] = _coerce(key, value)
    if config.get("DATABASE_URL"):
        config["SQLALCHEMY_DATABASE_URI"] = config["DATABASE_URL"]

    if overrides:
        config.update(overrides)
        if "DATABASE_URL" in overrides:
            config["SQLALCHEMY_DATABASE_URI"] = overrides["DATABASE_URL"]

    if not config.get("SECRET_KEY"):
        config["SECRET_KEY"] = _instance_secret(instance_path)
    return config


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
