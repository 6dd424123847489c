"""Extension objects, created unbound and attached in ``create_app`` (``db`` lives in core.db)."""

from __future__ import annotations

from flask_babel import Babel
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_mail import Mail
from flask_migrate import Migrate
from flask_wtf import CSRFProtect

from portal.web.client import client_address

migrate = Migrate(render_as_batch=True)
login_manager = LoginManager()
mail = Mail()
csrf = CSRFProtect()
babel = Babel()
# In memory by default (per process); RATELIMIT_STORAGE_URI=redis://… shares limits across processes.
limiter = Limiter(key_func=client_address, default_limits=[])
