"""The live list at a seminar's scale: each poll names in full only the newest questions (the
rest come as id, votes and state), and one snapshot per process serves every poller for
QA_LIVE_MAX_AGE_SECONDS, revalidated from the change counters that database triggers move, so
a write that bypasses the ORM shows too. The seminar-day benchmark (bench/seminar_day.py) is
why: a render per poll did not hold 1,000 attendees."""

from __future__ import annotations

import json
import re
import time
from typing import Any

import pytest
from conftest import get_html, logged_in, queries_of, register_accounts
from sqlalchemy import select, text

from portal.core.db import db
from portal.qa import views
from portal.qa.models import Question
from portal.seminars.models import RegistrationState


@pytest.fixture
def seminar_defaults() -> dict[str, Any]:
    return {"qa": "open", "program": [{"start": "15:30", "title": "イントロダクション"}]}


def listed(html: str) -> dict[int, tuple[int, str]]:
    """id -> (votes, the element's inner HTML), in the list's order; a question sent as data only
    (not named in full) -> (votes, its status words' HTML)."""
    found = re.findall(r'<li[^>]*data-question-id="(\d+)"[^>]*data-votes="(\d+)"[^>]*>(.*?)</li>', html, re.S)
    whole = {int(qid): (int(votes), inner) for qid, votes, inner in found}
    state = re.search(r"id=\"question-state\" data-entries='([^']*)'", html)
    if state is None:
        return whole
    words = dict(re.findall(r'<span data-status="(\d+)">(.*?)</span></span>', html, re.S))
    return {qid: whole.get(qid) or (votes, words.get(str(status), ""))
            for qid, votes, _classes, status in json.loads(state.group(1))}


def asked(app, auth, sid: int, bodies: list[str]) -> list[int]:
    for body in bodies:
        assert auth.post(f"/seminars/{sid}/questions", {"body": body}).status_code == 302
    with app.app_context():
        return [db.session.scalar(select(Question.id).where(Question.body == b)) for b in bodies]


def test_a_poll_names_only_the_newest_questions_in_full(app, create_user, make_seminar, monkeypatch):
    monkeypatch.setattr(views, "RECENT", 2)
    sid = make_seminar("scale")
    asker, reader = create_user("member"), create_user("member")
    assert register_accounts(app, sid, asker, reader) == [RegistrationState.REGISTERED] * 2
    ids = asked(app, logged_in(app, asker), sid, ["一番目の質問", "二番目の質問", "三番目の質問", "四番目の質問"])
    auth = logged_in(app, reader)
    assert auth.post(f"/questions/{ids[0]}/vote").status_code == 302

    short = listed(get_html(auth.client, f"/seminars/{sid}/questions?fragment=1"))
    assert list(sorted(short)) == ids  # every question, with its votes
    assert short[ids[0]][0] == 1
    assert "一番目の質問" not in short[ids[0]][1] and "二番目の質問" not in short[ids[1]][1]
    assert "三番目の質問" in short[ids[2]][1] and "四番目の質問" in short[ids[3]][1]
    fragment = get_html(auth.client, f"/seminars/{sid}/questions?fragment=1")
    assert f'data-question-id="{ids[0]}"' not in fragment  # data, not markup: id, votes, classes, status

    whole = listed(get_html(auth.client, f"/seminars/{sid}/questions?fragment=whole"))
    assert all(body in whole[qid][1] for qid, body in zip(ids, ["一番目", "二番目", "三番目", "四番目"], strict=True))
    # The page names the whole list too, and tells the script where the whole list is.
    page = get_html(auth.client, f"/seminars/{sid}/questions")
    assert "一番目の質問" in page
    assert f'data-whole-url="/seminars/{sid}/questions?sort=votes&amp;fragment=whole"' in page


def test_a_question_approved_late_comes_in_full(app, create_user, make_seminar, monkeypatch):
    monkeypatch.setattr(views, "RECENT", 1)
    sid = make_seminar("scale-approval")
    asker, reader = create_user("member"), create_user("member")
    register_accounts(app, sid, asker, reader)
    secretariat_auth = logged_in(app, create_user("secretariat"))
    assert secretariat_auth.post(f"/secretariat/seminars/{sid}/qa/approval", {"required": "y"}).status_code == 302
    held, later = asked(app, logged_in(app, asker), sid, ["承認待ちの古い質問", "あとの質問"])
    assert secretariat_auth.post(f"/secretariat/questions/{later}/approve").status_code == 302
    time.sleep(0.01)
    assert secretariat_auth.post(f"/secretariat/questions/{held}/approve").status_code == 302
    short = listed(get_html(logged_in(app, reader).client, f"/seminars/{sid}/questions?fragment=1"))
    assert "承認待ちの古い質問" in short[held][1]  # last to come on the list, though asked first
    assert "あとの質問" not in short[later][1]


def test_a_question_sent_as_data_keeps_its_state_in_words(app, create_user, make_seminar, monkeypatch):
    """Answered a while ago and no longer named in full: the poll still says 当日回答済み for it,
    and the classes that style it, once per distinct status, not once per question."""
    monkeypatch.setattr(views, "RECENT", 1)
    sid = make_seminar("scale-status")
    asker, reader = create_user("member"), create_user("member")
    register_accounts(app, sid, asker, reader)
    (first,) = asked(app, logged_in(app, asker), sid, ["回答済みの質問"])
    secretariat = logged_in(app, create_user("secretariat"))
    assert secretariat.post(f"/secretariat/questions/{first}/answered").status_code == 302
    time.sleep(0.01)
    (second,) = asked(app, logged_in(app, asker), sid, ["あとの質問"])

    html = get_html(logged_in(app, reader).client, f"/seminars/{sid}/questions?fragment=1")
    short = listed(html)
    assert "回答済みの質問" not in html and "あとの質問" in short[second][1]
    assert "当日回答済み" in short[first][1] and "state-note" in short[first][1]
    state = json.loads(re.search(r"data-entries='([^']*)'", html).group(1))
    assert [entry[0] for entry in state] == [second, first] or [entry[0] for entry in state] == [first, second]
    assert "state-answered" in dict((e[0], e[2]) for e in state)[first]


def test_one_snapshot_serves_its_age_then_a_write_behind_the_orms_back_shows(
    app, make_app, create_user, make_seminar
):
    sid = make_seminar("scale-snapshot")
    asker, reader = create_user("member"), create_user("member")
    register_accounts(app, sid, asker, reader)
    (qid,) = asked(app, logged_in(app, asker), sid, ["スナップショットの質問"])
    app = make_app(QA_LIVE_MAX_AGE_SECONDS=1.5)  # the same database, served with snapshots kept 1.5 s
    auth = logged_in(app, reader)
    path = f"/seminars/{sid}/questions?fragment=1"

    first = auth.client.get(path)
    etag = first.headers["ETag"]
    assert listed(first.get_data(as_text=True))[qid][0] == 0
    built = time.monotonic()
    with app.app_context():  # another program's write: no ORM event, only the database's triggers
        reader_id = db.session.scalar(text("SELECT id FROM users WHERE email = :e"), {"e": reader.email})
        db.session.execute(text("INSERT INTO question_votes (question_id, user_id, created_at) "
                                "VALUES (:q, :u, CURRENT_TIMESTAMP)"), {"q": qid, "u": reader_id})
        db.session.commit()

    # Within the snapshot's age every poller gets the same list: a 304 for a known copy.
    again = auth.client.get(path, headers={"If-None-Match": etag})
    assert time.monotonic() - built < 1.5, "the machine was too slow to tell"
    assert again.status_code == 304
    time.sleep(1.6)
    fresh = auth.client.get(path, headers={"If-None-Match": etag})
    assert fresh.status_code == 200 and fresh.headers["ETag"] != etag
    assert listed(fresh.get_data(as_text=True))[qid][0] == 1


def test_a_poll_that_finds_the_snapshot_old_is_answered_before_the_list_is_read_again(
    app, make_app, create_user, make_seminar
):
    """The poll that finds the snapshot past its age does not wait for the read: its answer is
    the snapshot it found, complete before the list is read again; the read happens once that
    answer has gone (the WSGI close), and the next poll is served the renewed list, the vote in
    it, without reading anything. (Waiting polls were the slowest 5 % of the seminar day.)"""
    sid = make_seminar("scale-after-answer")
    asker, reader = create_user("member"), create_user("member")
    register_accounts(app, sid, asker, reader)
    (qid,) = asked(app, logged_in(app, asker), sid, ["あとで読み直す質問"])
    app = make_app(QA_LIVE_MAX_AGE_SECONDS=1.0, QA_LIVE_STALE_SECONDS=60)
    auth = logged_in(app, reader)
    path = f"/seminars/{sid}/questions?fragment=1"
    assert listed(auth.client.get(path).get_data(as_text=True))[qid][0] == 0
    assert auth.post(f"/questions/{qid}/vote", {}).status_code == 302
    time.sleep(1.1)

    with queries_of(app) as seen:
        answer = auth.client.get(path, buffered=False)
        body = answer.get_data(as_text=True)  # the whole answer, as the server sends it
        before_close = list(seen.statements)
        answer.close()  # the server is done with the answer: now the list is read again
        after_close = seen.statements[len(before_close):]
        seen.statements.clear()
        renewed = auth.client.get(path)
        served = list(seen.statements)
    reads = lambda found: [s for s in found if re.search(r"FROM questions\b", s)]  # noqa: E731
    assert answer.status_code == 200 and listed(body)[qid][0] == 0, "the old poll waited for the new read"
    assert not reads(before_close), "the list was read before the answer was complete"
    assert reads(after_close), "the list was not read again after the answer"
    assert renewed.status_code == 200 and listed(renewed.get_data(as_text=True))[qid][0] == 1
    assert not reads(served), "the renewed snapshot was read again"


def test_the_moderators_poll_is_rendered_from_the_attendees_read_and_stays_the_moderators(
    app, make_app, create_user, make_seminar
):
    """Nobody but the moderator polls the moderator's list: it is rendered from what the
    attendees' polls read a moment ago, without reading the list again, yet it is the
    moderator's view (the hidden question, its buttons); an attendee's poll after it still
    shows none of that, under its own ETag."""
    sid = make_seminar("scale-views")
    asker, reader, secretariat = create_user("member"), create_user("member"), create_user("secretariat")
    register_accounts(app, sid, asker, reader)
    shown, hidden = asked(app, logged_in(app, asker), sid, ["みんなの質問", "隠した質問"])
    hide = logged_in(app, secretariat).post(f"/secretariat/questions/{hidden}/hide", {"confirmed": "1"})
    assert hide.status_code == 302
    app = make_app(QA_LIVE_MAX_AGE_SECONDS=60)  # the same database; one read serves the whole test
    attendee, moderator = logged_in(app, reader), logged_in(app, secretariat)
    path = f"/seminars/{sid}/questions?fragment=1"

    first = attendee.client.get(path)
    assert first.status_code == 200 and list(listed(first.get_data(as_text=True))) == [shown]
    with queries_of(app) as seen:
        answer = moderator.client.get(path)
    assert answer.status_code == 200
    assert not [s for s in seen.statements if re.search(r"FROM questions\b", s)], "the moderator's poll read the list"
    html = answer.get_data(as_text=True)
    short = listed(html)
    assert set(short) == {shown, hidden} and "隠した質問" in short[hidden][1] and "非表示" in short[hidden][1]
    assert "当日回答済みにする" in short[shown][1]

    again = attendee.client.get(path, headers={"If-None-Match": answer.headers["ETag"]})
    assert again.status_code == 200 and again.headers["ETag"] == first.headers["ETag"] != answer.headers["ETag"]
    assert list(listed(again.get_data(as_text=True))) == [shown]
    assert "隠した質問" not in again.get_data(as_text=True) and "当日回答済みにする" not in again.get_data(as_text=True)


def test_the_moderators_list_names_in_full_what_changed_last(app, create_user, make_seminar, monkeypatch):
    """The secretariat's list is short too (its buttons follow each question's state): a
    question answered just now comes whole, with its buttons as they are now."""
    monkeypatch.setattr(views, "RECENT", 2)
    sid = make_seminar("scale-moderator")
    asker = create_user("member")
    register_accounts(app, sid, asker)
    ids = asked(app, logged_in(app, asker), sid, ["最初の質問", "二番目の質問", "三番目の質問", "四番目の質問"])
    moderator = logged_in(app, create_user("secretariat"))
    assert moderator.post(f"/secretariat/questions/{ids[0]}/answered").status_code == 302

    short = listed(get_html(moderator.client, f"/seminars/{sid}/questions?fragment=1"))
    assert "最初の質問" in short[ids[0]][1] and "当日回答済みにする" not in short[ids[0]][1]
    assert "当日回答済み" in short[ids[0]][1]  # its state, in words
    assert "二番目の質問" not in short[ids[1]][1] and "三番目の質問" not in short[ids[2]][1]
    assert "四番目の質問" in short[ids[3]][1] and "当日回答済みにする" in short[ids[3]][1]


def test_the_database_counts_every_vote_however_it_is_written(app, create_user, make_seminar):
    """The list reads each question's count, kept by the database as votes come and go (a
    rebuild of 1,200 questions no longer counts 12,000 votes): a vote through the page, one
    inserted, moved and deleted by another program all show, and the vote's own answer, the
    list and the CSV agree with the votes themselves."""
    sid = make_seminar("scale-counts")
    asker, first, second, third = (create_user("member") for _ in range(4))
    register_accounts(app, sid, asker, first, second, third)
    one, two = asked(app, logged_in(app, asker), sid, ["票を数える質問", "票が移る質問"])
    answer = logged_in(app, first).post(f"/questions/{one}/vote", headers={"Accept": "application/json"})
    assert answer.get_json()["votes"] == 1
    answer = logged_in(app, second).post(f"/questions/{one}/vote", headers={"Accept": "application/json"})
    assert answer.get_json()["votes"] == 2

    with app.app_context():  # another program: no ORM, only the database's triggers
        ids = {u.email: db.session.scalar(text("SELECT id FROM users WHERE email = :e"), {"e": u.email})
               for u in (first, second, third)}
        db.session.execute(text("INSERT INTO question_votes (question_id, user_id, created_at) "
                                "VALUES (:q, :u, CURRENT_TIMESTAMP)"), {"q": one, "u": ids[third.email]})
        db.session.execute(text("UPDATE question_votes SET question_id = :to WHERE question_id = :q AND user_id = :u"),
                           {"to": two, "q": one, "u": ids[second.email]})
        db.session.execute(text("DELETE FROM question_votes WHERE question_id = :q AND user_id = :u"),
                           {"q": one, "u": ids[first.email]})
        db.session.commit()
        counted = dict(db.session.execute(text(
            "SELECT question_id, count(*) FROM question_votes GROUP BY question_id")).all())
    assert counted == {one: 1, two: 1}

    shown = listed(get_html(logged_in(app, asker).client, f"/seminars/{sid}/questions?fragment=whole"))
    assert {qid: votes for qid, (votes, _) in shown.items()} == {one: 1, two: 1}
    csv = logged_in(app, create_user("secretariat")).client.get(f"/secretariat/seminars/{sid}/questions.csv")
    rows = csv.get_data(as_text=True).splitlines()
    assert [row.split(",")[6] for row in rows[1:]] == ["1", "1"]  # 投票数

