"""Japanese content on a screen in another language: the one way it is marked lang="ja"
(WCAG 3.1.2), so a screen reader set to English pronounces titles, names, questions and texts
as entered as Japanese. Templates use the ``|ja`` filter; a message built in Python that
carries such content uses ``ja_message``."""

from __future__ import annotations

from typing import Any

from flask import has_request_context
from flask_babel import get_locale
from markupsafe import Markup, escape


def _english() -> bool:
    return has_request_context() and str(get_locale()) != "ja"


def ja(value: Any) -> Any:
    """``value`` in a <span lang="ja"> when the screen is not Japanese; as it is otherwise
    (and when empty)."""
    if value is None or value == "" or not _english():
        return value
    return Markup('<span lang="ja">%s</span>') % escape(value)


def ja_message(message: str, plain: dict[str, Any] | None = None, **content: Any) -> Markup:
    """A translated message (``_("…%(title)s…")`` without its values) with its values put in:
    ``content`` (titles, names as entered) each marked by ``ja``, ``plain`` (addresses,
    numbers) as they are; everything escaped."""
    return Markup(escape(message)) % {**(plain or {}), **{name: ja(value) for name, value in content.items()}}


def ja_choice(value: Any, label: str) -> tuple[Any, str, dict[str, str]]:
    """A select's option whose label is Japanese content: the option itself carries lang="ja"
    (an option cannot hold a <span>)."""
    return value, label, {"lang": "ja"} if _english() else {}


def ja_field() -> dict[str, str]:
    """Attributes for a form field that holds Japanese content (a textarea of points, a mail
    body): lang="ja" on a screen in another language."""
    return {"lang": "ja"} if _english() else {}
