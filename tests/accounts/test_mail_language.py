"""Mails are Japanese whatever language the page that caused them was in: a state in a mail
comes from the one label table in Japanese (never "さくら市（member）")."""

from __future__ import annotations

from conftest import csrf_token


def test_signup_in_english_mails_the_secretariat_the_japanese_label(client, outbox):
    assert client.get("/language/en").status_code == 302
    data = {"name": "Jane Doe", "email": "jane@example.org", "organization": "さくら市",
            "organization_kind": "municipality", "membership": "member",
            "password": "applicant-pass-123", "password_confirm": "applicant-pass-123"}
    response = client.post("/signup", data={**data, "csrf_token": csrf_token(client, "/signup")})
    assert response.status_code == 200  # the "application received" page
    (mail,) = outbox("account.signup_secretariat")
    assert "さくら市（会員）" in mail.body and "member）" not in mail.body
