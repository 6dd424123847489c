"""Re-saving an answer (to publish it as FAQ, or by a second click) does not mail the asker again;
a corrected answer is mailed once more."""

from __future__ import annotations

from conftest import logged_in
from test_qa import ask, attendee, close, mails_to, question_id, seminar_defaults  # noqa: F401 - the fixture


def test_resaving_the_same_answer_mails_the_asker_once(app, create_user, make_seminar):
    sid = make_seminar("resave")
    asker, auth = attendee(app, create_user, sid)
    secretariat = logged_in(app, create_user("secretariat"))
    assert ask(auth, sid, "資料は後日公開されますか？").status_code == 302
    assert close(secretariat, sid).status_code == 302
    qid = question_id(app, sid, "資料は後日公開されますか？")

    def answers() -> list:
        return [m for m in mails_to(app, asker.email) if "回答" in m.subject]

    url = f"/secretariat/questions/{qid}/answer"
    assert secretariat.post(url, {"answer": "1週間以内に公開します。"}).status_code == 302
    assert secretariat.post(url, {"answer": "1週間以内に公開します。"}).status_code == 302  # a second click
    assert secretariat.post(url, {"answer": " 1週間以内に公開します。 ", "publish": "y"}).status_code == 302
    assert len(answers()) == 1

    assert secretariat.post(url, {"answer": "3日以内に公開します。", "publish": "y"}).status_code == 302
    mailed = answers()
    assert len(mailed) == 2 and "3日以内に公開します。" in mailed[1].body
