"""Extension objects, created unbound and attached in ``create_app`` (``db`` lives in core.db)."""

from __future__ import annotations

import time

from flask import Flask, current_app
from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_wtf import CSRFProtect
from limits.storage import Storage, storage_from_string

from portal.web.client import client_address

migrate = Migrate(render_as_batch=True)
login_manager = LoginManager()
mail = Mail()
csrf = CSRFProtect()
babel = Babel()
# In memory by default (per process); RATELIMIT_STORAGE_URI=redis://… shares limits across processes.
limiter = Limiter(key_func=client_address, default_limits=[])


class SharedCounters:
    """Counters every process sees: the rate limits' storage (``RATELIMIT_STORAGE_URI``).

    Used for limits keyed by something other than the request (an account, a mail's recipient).
    They work whether or not ``RATELIMIT_ENABLED`` is on: they are part of log-in, not a ceiling.
    """

    def init_app(self, app: Flask) -> None:
        uri = app.config["RATELIMIT_STORAGE_URI"]
        options = app.config.get("RATELIMIT_STORAGE_OPTIONS") or {}
        app.extensions["portal.counters"] = storage_from_string(uri, **options)
        if uri.startswith("memory://") and not app.testing:
            app.logger.warning(
                "Rate limits and log-in throttling are kept in this process's memory "
                "(RATELIMIT_STORAGE_URI=memory://): with more than one process (gunicorn -w N) each counts "
                "alone. Set PORTAL_RATELIMIT_STORAGE_URI=redis://… to share them.")

    @staticmethod
    def _storage() -> Storage:
        storage: Storage = current_app.extensions["portal.counters"]
        return storage

    @staticmethod
    def _key(key: str) -> str:
        return f"{current_app.config.get('RATELIMIT_KEY_PREFIX') or ''}portal/{key}"

    def incr(self, key: str, expiry: int) -> int:
        return self._storage().incr(self._key(key), expiry)

    def get(self, key: str) -> int:
        return self._storage().get(self._key(key))

    def seconds_left(self, key: str) -> float:
        return max(0.0, self._storage().get_expiry(self._key(key)) - time.time())

    def clear(self, key: str) -> None:
        self._storage().clear(self._key(key))


counters = SharedCounters()
