"""The one confirmation step for actions that mail people or cannot be undone.

Server-side, so it works without JavaScript: the page's button leads (GET) to a page that says
what will happen and whom it will mail, whose form posts the action; or an action posted
without ``confirmed`` answers with that page, the submitted fields carried along unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import render_template, request

CONFIRMED = "confirmed"


def is_confirmed() -> bool:
    """Whether the posted form came from a confirmation page."""
    return request.form.get(CONFIRMED) == "1"


def confirmation(*, title: str, message: str, action: str, button: str, back: str,
                 mails: int | None = None, carry: bool = False, details: Iterable[str] = (),
                 danger: bool = True, keep: dict[str, str] | None = None) -> str:
    """The confirmation page. ``mails``: how many people the action mails (None: it mails
    nobody); ``carry``: post the fields of the current request again (a form that was
    submitted once); ``details``: lines such as 変更前 → 変更後; ``keep``: more fields to post."""
    fields = [(k, v) for k, v in request.form.items(multi=True) if k not in ("csrf_token", CONFIRMED)] if carry else []
    fields += list((keep or {}).items())
    return render_template("confirm.html", title=title, message=message, action=action, button=button, back=back,
                           mails=mails, fields=fields, details=list(details), danger=danger)
