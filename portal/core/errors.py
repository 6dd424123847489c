"""The one expected-error type.

A service refuses an operation by raising ``DomainError`` with a message for people (a lazy
translated string, or plain text) and, when one form field is to blame, that field's name. The
web layer's unit of work rolls the transaction back and answers the same way everywhere: the
form re-rendered with the message beside the field and 422, or a JSON error for the API. The
importer names the record with the same message. Anything else raised is a bug.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    def __init__(self, message: Any, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return str(self.message)
