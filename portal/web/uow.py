"""The one unit of work: a request's changes commit together or not at all.

Views run their operation inside ``with unit_of_work(form) as work:``. On success the session
commits when the block ends. A ``DomainError`` (the one expected error) rolls everything back
and is shown the same way everywhere: beside its field, or at the top of the form, when there is
a form (the view then re-renders it with ``render_form``, answering 422), or as a flashed message
when the action was a button on a page (the view redirects back to it). Any other exception
rolls back and propagates: it is a bug, and the error page says so.

The API answers a ``DomainError`` that reaches Flask as JSON (see ``portal.create_app``).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

from flask import flash, render_template

from portal.core.db import db
from portal.core.errors import DomainError
from portal.web.forms import Form


class UnitOfWork:
    def __init__(self, form: Form | None = None) -> None:
        self.form = form
        self.error: DomainError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def __enter__(self) -> UnitOfWork:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> bool:
        if exc is None:
            db.session.commit()
            return False
        db.session.rollback()
        if not isinstance(exc, DomainError):
            return False
        self.error = exc
        show_error(exc, self.form)
        return True


def unit_of_work(form: Form | None = None) -> UnitOfWork:
    return UnitOfWork(form)


def show_error(error: DomainError, form: Form | None = None) -> None:
    """Beside the field it names, at the top of the form, or flashed when there is no form."""
    if form is None:
        flash(str(error), "error")
        return
    field = form._fields.get(error.field) if error.field else None
    if field is not None:
        field.errors = [*field.errors, str(error)]
    else:
        form.form_errors.append(str(error))


def flash_errors(form: Form) -> None:
    """A form that is a button on another page tells its errors there, one flash a message."""
    for errors in form.errors.values():
        for message in errors:
            flash(str(message), "error")  # validator messages may be lazy strings


def render_form(template: str, form: Form, **context: Any) -> tuple[str, int]:
    """A page with a form: 422 when the form was submitted and has errors, else 200."""
    return render_template(template, form=form, **context), 422 if form.errors else 200
