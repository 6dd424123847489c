"""Q&A pages: attendees ask and vote; the secretariat moderates on the same list.

The list refreshes itself (static/qa.js) from the *shared* list: the same for every attendee
(and one for the secretariat, which sees held-back and hidden questions and its buttons), so an
unchanged list answers 304 from the change counters (``queries.live_version``) without a render,
and a snapshot of the list serves every poller of a process for a moment (``_shared``).
What is the viewer's own (voted, mine) comes with the page and with each vote's answer.
"""

from __future__ import annotations

import json

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    get_flashed_messages,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from portal.core.dates import format_time
from portal.extensions import limiter
from portal.qa import access, live, operations, queries
from portal.qa.forms import QuestionForm
from portal.qa.models import Question
from portal.seminars import queries as seminar_queries
from portal.seminars.access import is_visible, may_register
from portal.seminars.models import RegistrationState, Seminar
from portal.seminars.registrations import registration_problem
from portal.web import access as web_access
from portal.web.conditional import PRIVATE, conditional
from portal.web.forms import ActionForm
from portal.web.lang import ja_choice
from portal.web.snapshots import snapshots
from portal.web.uow import render_form, unit_of_work

bp = Blueprint("qa", __name__)


def _seminar_for_qa(seminar_id: int) -> Seminar:
    """404 for a missing or draft seminar (but for the secretariat); visitors log in; a
    logged-in account that may not take part gets 403 with the reason, a way to register and
    the questions it asked."""
    # Every poll passes here: the seminar and whether the viewer is registered, in one query.
    seminar, attendee = web_access.get_with_or_404(Seminar, seminar_id, access.attending(current_user),
                                                   visible=is_visible)
    allowed = access.may_take_part(current_user, seminar, attendee=attendee)
    if current_user.is_authenticated and not allowed:
        abort(_not_attendee(seminar))
    web_access.require(allowed)
    return seminar


def _not_attendee(seminar: Seminar):
    registration = seminar_queries.registration_of(seminar, current_user)
    state = registration.state if registration is not None else None
    problem = registration_problem(seminar)
    html = render_template(
        "qa/not_attendee.html", seminar=seminar, waiting=state is RegistrationState.WAITING,
        cancelled=state is RegistrationState.CANCELLED, problem=problem,
        can_register=may_register(current_user, seminar) and problem is None and state is not RegistrationState.WAITING,
        own=queries.own_questions(seminar, current_user), action_form=ActionForm())
    return make_response(html, 403)


def _form(seminar: Seminar) -> QuestionForm:
    form = QuestionForm()
    form.program_item.choices = [(0, _("（指定なし）"), {})] + [
        ja_choice(item.id, " ".join(x for x in (format_time(item.start_time), item.title,
                                                "／".join(p.display for p in item.presenters)) if x))
        for item in seminar.program
    ]
    return form


def _sort() -> str:
    return "time" if request.args.get("sort") == "time" else "votes"


def _render(seminar: Seminar, form: QuestionForm):
    sort = _sort()
    listed = queries.listing(seminar, current_user, sort=sort)
    own = {"mine": [x.question.id for x in listed if x.mine], "voted": [x.question.id for x in listed if x.voted]}
    return render_form("qa/questions.html", form, seminar=seminar, sort=sort, questions=listed,
                       own=json.dumps(own), moderator=access.may_moderate(current_user, seminar),
                       action_form=ActionForm(), shared=False)


def _shared(seminar: Seminar, template: str, *, presenter: bool = False, whole: bool = False):
    """The shared list (attendees', moderators' or the presenter screen's), 304 while nothing on
    it changed. One snapshot per process serves every poller for QA_LIVE_MAX_AGE_SECONDS
    (portal/web/snapshots.py), then it is revalidated from the change counters and read again
    only when they moved, after the answer of the poll that found it old (within
    QA_LIVE_STALE_SECONDS more), which renders its own view of the new read too. The snapshot
    holds the list as read (``queries.ListRead``); each view of it (attendees' or moderators',
    by votes or in the order asked, per language) is rendered from it once, so the moderator's
    poll renders but reads nothing.

    The list names in full only the RECENT questions whose state changed last (asked, approved,
    pinned, answered, hidden): the others come as data (``queries.short_list``: id, votes, classes
    and status, no markup per question), which is all a page that already shows them needs (a
    moderator's buttons change only with a question's state, and a question whose state changed
    is named in full). A page that meets one it does not know asks for the whole list
    (``whole``). A poll of 1,200 questions is ~80 KB, not 1 MB, and its rebuild renders 50 items,
    not 1,200."""
    moderator = access.may_moderate(current_user, seminar) and not presenter
    sort = "votes" if presenter else _sort()
    kind = "presenter" if presenter else "whole" if whole else "recent"
    view = (template, "moderator" if moderator else "attendee", sort, str(get_locale()))

    def read() -> queries.ListRead:
        if presenter:
            return queries.presenter_read(seminar, top=PRESENTER_TOP)
        return queries.read_list(seminar, whole=None if whole else RECENT)

    def render(listed: queries.ListRead) -> str:
        return _render_shared(listed, template, moderator=moderator, sort=sort)

    def version() -> tuple[str, str]:
        value, guard = queries.live_version(seminar)
        return f"{seminar.id}|{kind}|{value}", guard

    key = (seminar.id, kind)
    snapshot = snapshots().get(key, current_app.config["QA_LIVE_MAX_AGE_SECONDS"], version, read,
                               stale=current_app.config["QA_LIVE_STALE_SECONDS"],
                               warm=lambda renewed: renewed.view(view, render))
    if not whole:
        live.grant(key, snapshot, view)  # this session's next polls of this list may take the fast lane
    # Behind a log-in (who may read it is checked before): no proxy keeps it; the browser
    # revalidates it with its ETag on every poll. Each view has its own.
    return conditional(live.view_validator(snapshot, view), lambda: snapshot.view(view, render),
                       cache_control=PRIVATE)


def _render_shared(read: queries.ListRead, template: str, *, moderator: bool, sort: str) -> str:
    listed = queries.arrange(read, moderator=moderator, sort=sort)
    short = None
    if not read.whole and listed:
        short = queries.short_list(listed)
        listed = short.whole
    return render_template(template, questions=listed, short=short, moderator=moderator, sort=sort, shared=True,
                           action_form=None)


RECENT = 50  # questions named in full on each poll: 25 s of questions and answers at 2 a second
PRESENTER_TOP = 8  # what a projector shows readably in large type


@bp.get("/seminars/<int:seminar_id>/questions")
@login_required
def questions(seminar_id: int):
    seminar = _seminar_for_qa(seminar_id)
    if request.args.get("fragment"):
        return _shared(seminar, "qa/_list.html", whole=request.args.get("fragment") == "whole")
    return _render(seminar, _form(seminar))


@bp.get("/seminars/<int:seminar_id>/questions/presenter")
@login_required
def presenter(seminar_id: int):
    """The shared screen: large type, the one being answered pinned, the top open questions,
    never a name of an anonymous asker nor anything held back or hidden."""
    seminar = _seminar_for_qa(seminar_id)
    if request.args.get("fragment"):
        return _shared(seminar, "qa/_presenter_list.html", presenter=True)
    return render_template("qa/presenter.html", seminar=seminar,
                           questions=queries.for_presenter(seminar, top=PRESENTER_TOP))


@bp.post("/seminars/<int:seminar_id>/questions")
@login_required
@limiter.limit(lambda: current_app.config["RATELIMIT_QUESTIONS"],
               key_func=lambda: f"user:{current_user.get_id()}")
def ask(seminar_id: int):
    seminar = _seminar_for_qa(seminar_id)
    form = _form(seminar)
    if form.validate_on_submit():
        with unit_of_work(form) as work:
            question = operations.ask(seminar, current_user, form.body.data, anonymous=form.anonymous.data,
                                      program_item_id=form.program_item.data or None)
        if work.ok:
            flash(_("追加の質問を事務局にお送りしました。") if question.followup else _("質問を送信しました。"),
                  "success")
            return redirect(url_for(".questions", seminar_id=seminar.id))
    return _render(seminar, form)


@bp.post("/questions/<int:question_id>/vote")
@login_required
def vote(question_id: int):
    question = web_access.get_or_404(Question, question_id)
    seminar = _seminar_for_qa(question.seminar_id)
    wants_json = request.accept_mimetypes.best == "application/json"
    with unit_of_work() as work:
        added = operations.vote(question, current_user)
    if wants_json:
        if not work.ok:
            get_flashed_messages()  # the JSON answer carries the refusal, not the next page
            return jsonify({"error": str(work.error)}), 409
        return jsonify({"question": question.id, "votes": queries.votes_of(question), "added": added})
    if not work.ok:
        return redirect(url_for(".questions", seminar_id=seminar.id))
    return redirect(url_for(".questions", seminar_id=seminar.id, sort=request.args.get("sort")) + f"#q{question.id}")
