"""Back-office forms every domain's back office shares."""

from __future__ import annotations

from flask_wtf import FlaskForm


class ActionForm(FlaskForm):
    """A button that only needs the CSRF token."""
