"""The English UI: strings made in Python (form labels and errors, flash messages, messages
from services, error pages) follow the visitor's language choice (/language/en), while the
same pages stay Japanese for everyone who has not switched, and the CLI and the API's JSON
errors stay Japanese.

Every test runs once per database (sqlite, and postgresql when TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import html as html_lib

from conftest import csrf_token
from sqlalchemy import select

from portal.core.db import db
from portal.seminars.models import Seminar


def page(response) -> str:
    return html_lib.unescape(response.get_data(as_text=True))


def to_english(client) -> None:
    assert client.get("/language/en").status_code == 302


def seminar_id(app, key: str) -> int:
    with app.app_context():
        return db.session.scalar(select(Seminar.id).where(Seminar.key == key))


def signup(client, **overrides: str):
    data = {
        "name": "Jane Doe", "email": "jane@example.org", "organization": "Sample City",
        "organization_kind": "municipality", "membership": "member",
        "password": "applicant-pass-123", "password_confirm": "applicant-pass-123",
    }
    data.update(overrides)
    return client.post("/signup", data={**data, "csrf_token": csrf_token(client, "/signup")})


def failed_login(client):
    return client.post("/login", data={"email": "nobody@example.org", "password": "wrong-password-1",
                                       "csrf_token": csrf_token(client)})


def test_login_form_and_a_failed_login_speak_the_chosen_language(client):
    # Not switched: Japanese labels and error.
    japanese = page(client.get("/login"))
    assert '<label for="email">メールアドレス</label>' in japanese
    assert '<label for="password">パスワード</label>' in japanese
    response = failed_login(client)
    assert response.status_code == 422
    assert "メールアドレスまたはパスワードが正しくありません。" in page(response)

    to_english(client)
    english = page(client.get("/login"))
    assert '<label for="email">E-mail</label>' in english
    assert '<label for="password">Password</label>' in english
    assert "メールアドレス" not in english and "パスワード</label>" not in english
    response = failed_login(client)
    assert response.status_code == 422
    assert "The e-mail address or password is incorrect." in page(response)
    assert "正しくありません" not in page(response)


def test_member_registering_for_a_seminar_sees_the_flash_in_their_language(app, client, auth, create_user, demo):
    upcoming = seminar_id(app, "demo-upcoming")
    japanese_member, english_member = create_user("member"), create_user("member")

    auth.login(japanese_member)
    response = auth.post(f"/seminars/{upcoming}/registration", follow_redirects=True)
    assert response.status_code == 200
    assert "参加登録しました。確認メールをお送りします。" in page(response)
    auth.logout()

    to_english(client)
    auth.login(english_member)
    response = auth.post(f"/seminars/{upcoming}/registration", follow_redirects=True)
    assert response.status_code == 200
    text = page(response)
    assert "You are registered. We will send you a confirmation e-mail." in text
    assert "参加登録しました" not in text
    # Registering again: the "already registered" flash, also in English.
    text = page(auth.post(f"/seminars/{upcoming}/registration", follow_redirects=True))
    assert "You are already registered." in text


def test_signup_form_labels_choices_and_validation_errors_follow_the_language(client):
    invalid = {"name": "", "email": "not-an-address", "password": "short", "password_confirm": "other"}
    response = signup(client, **invalid)
    assert response.status_code == 422
    japanese = page(response)
    for message in ("入力してください。", "メールアドレスの形式が正しくありません。",
                    "10文字以上で入力してください。", "パスワードが一致しません。"):
        assert message in japanese
    assert ">自治体</option>" in japanese and "パスワード（10文字以上）" in japanese

    to_english(client)
    response = signup(client, **invalid)
    assert response.status_code == 422
    english = page(response)
    for message in ("This field is required.", "The e-mail address is not valid.",
                    "Enter at least 10 characters.", "The passwords do not match."):
        assert message in english
    assert ">Local government</option>" in english and ">Type of organization</label>" in english
    assert "Password (at least 10 characters)" in english
    for japanese_message in ("入力してください。", "形式が正しくありません", "文字以上", "一致しません"):
        assert japanese_message not in english

    # A rule the service enforces (not the form) is shown in English too.
    response = signup(client, password="aaaaaaaaaa", password_confirm="aaaaaaaaaa")
    assert response.status_code == 422
    assert "This is a common password that is easy to guess. Please choose another one." in page(response)


def test_a_taken_address_is_not_revealed_on_the_web_and_japanese_on_the_cli(client, runner, create_user):
    taken = create_user("member", email="taken@example.org")
    to_english(client)
    response = signup(client, email=taken.email)  # the web answers as for a new address (issue 12)
    assert response.status_code == 200
    assert "already registered" not in page(response) and "既に登録" not in page(response)

    # The same service message outside any request (the CLI) is Japanese.
    result = runner.invoke(args=["portal", "create-user", "--email", taken.email, "--name", "X",
                                 "--role", "member", "--password-stdin"], input="long-enough-pw-9\n")
    assert result.exit_code != 0
    assert "このメールアドレスは既に登録されています。" in result.output


def test_why_registration_is_closed_follows_the_language(app, client, demo):
    past = seminar_id(app, "fy2021-1")
    assert "このセミナーは終了しました。" in page(client.get(f"/seminars/{past}"))
    to_english(client)
    text = page(client.get(f"/seminars/{past}"))
    assert "This seminar has ended." in text
    assert "このセミナーは終了しました。" not in text


def test_login_required_message_and_error_pages_are_english_but_api_errors_stay_japanese(client):
    to_english(client)
    text = page(client.get("/account", follow_redirects=True))
    assert "Please log in to see this page." in text
    assert "ログインしてください" not in text

    response = client.get("/no-such-page")
    assert response.status_code == 404
    text = page(response)
    assert "Page not found" in text and "ページが見つかりません" not in text

    response = client.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.get_json() == {"error": "ページが見つかりません", "status": 404}


def test_regenerating_the_calendar_url_says_so_in_english(client, auth, create_user):
    auth.login(create_user("member"))
    to_english(client)
    response = auth.post("/account/calendar-token", {"confirmed": "1"})
    assert response.status_code == 302
    shown = page(client.get(response.headers["Location"]))
    assert "A new calendar subscription URL has been issued. The previous URL no longer works." in shown
    assert "カレンダー購読用のURLを再発行しました" not in shown
