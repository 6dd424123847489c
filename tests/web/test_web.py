"""The web layer, tried as an attacker would: forged forwarding headers, a cached private page,
control characters in a redirect target or a single-line field."""

from __future__ import annotations

from conftest import csrf_token
from sqlalchemy import select
from wtforms import StringField, TextAreaField

from portal.audit.models import AuditEvent
from portal.core.db import db
from portal.web.forms import Form


def failed_login_ip(app, client, **headers: str) -> str | None:
    client.post("/login", headers=headers, data={
        "email": "nobody@example.org", "password": "wrong-password-1", "csrf_token": csrf_token(client)})
    with app.app_context():
        event = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "login.failure")
                                   .order_by(AuditEvent.id.desc())).first()
        return event.ip if event else None


def test_a_forged_forwarded_for_changes_nothing_without_trusted_proxies(app, client):
    assert failed_login_ip(app, client, **{"X-Forwarded-For": "203.0.113.9"}) == "127.0.0.1"


def test_behind_one_trusted_proxy_the_forwarded_client_is_the_client(make_app):
    app = make_app(PROXY_HOPS=1)
    client = app.test_client()
    # A client's own forged entry comes first; the proxy appends the address it saw.
    assert failed_login_ip(app, client, **{"X-Forwarded-For": "198.51.100.1, 203.0.113.9"}) == "203.0.113.9"


def test_pages_behind_a_log_in_are_never_stored(client, create_user, auth):
    assert "no-store" not in client.get("/seminars").headers.get("Cache-Control", "")
    auth.login(create_user("member"))
    for path in ("/account", "/seminars", "/"):
        assert client.get(path).headers.get("Cache-Control") == "private, no-store", path


def test_a_next_with_control_characters_is_ignored(client, create_user):
    user = create_user("member")
    for target in ("/account%0d%0aSet-Cookie:%20x=1", "/account%0a", "http://[evil"):
        response = client.post(f"/login?next={target}", data={
            "email": user.email, "password": "correct-horse-battery", "csrf_token": csrf_token(client)})
        assert response.status_code == 302, target
        assert "\n" not in response.headers["Location"] and "evil" not in response.headers["Location"]
        client.post("/logout", data={"csrf_token": csrf_token(client, "/")})


def test_single_line_fields_refuse_control_characters(app):
    class Sample(Form):
        name = StringField()
        body = TextAreaField()

    with app.test_request_context(method="POST", data={"name": "山田\r\nBcc: x@example.org", "body": "1行目\r\n2行目"}):
        app.config["WTF_CSRF_ENABLED"] = False
        form = Sample()
        assert not form.validate()
        assert form.name.errors == ["改行や制御文字は入力できません。"]
        assert form.body.errors == []


def test_a_sign_up_name_with_a_line_break_is_refused_and_nothing_is_mailed_or_stored(app, client, outbox):
    from portal.accounts.models import User

    response = client.post("/signup", data={
        "name": "山田\r\nBcc: x@example.org", "email": "applicant@example.org", "organization": "サンプル市",
        "organization_kind": "municipality", "membership": "member", "password": "applicant-pass-123",
        "password_confirm": "applicant-pass-123", "csrf_token": csrf_token(client, "/signup")})

    assert response.status_code == 422
    assert '<p class="error" id="name-error">改行や制御文字は入力できません。</p>' in response.get_data(as_text=True)
    assert outbox() == []
    with app.app_context():
        assert db.session.scalar(select(User).where(User.email == "applicant@example.org")) is None
