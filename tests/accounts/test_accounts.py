"""Accounts through HTTP: sign-up and approval, log-in with lock-out, log-out, password reset,
CSRF, back-office access, safe ``next`` redirects, sessions of deactivated accounts.

Every test runs once per database (sqlite, and postgresql when TEST_DATABASE_URL is set).
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode, urlsplit

import pytest
from conftest import DEFAULT_PASSWORD, asks_first, csrf_token, is_logged_in, page_text
from sqlalchemy import func, select, update

from portal.accounts import authentication
from portal.accounts.models import AccountState, Organization, PasswordResetToken, Role, User
from portal.core.db import db, utcnow
from portal.mail.models import OutboxMessage

PASSWORD = DEFAULT_PASSWORD  # create_user's
NEW_PASSWORD = "new-staple-battery-42"
SECRETARIAT_BOX = "secretariat-box@example.org"

GENERIC_ERROR = "メールアドレスまたはパスワードが正しくありません。"
RESET_LINK_RE = re.compile(r"https?://\S+/password-reset/\S+")


# ----------------------------------------------------------------------------- helpers


def login(client, email: str, password: str = PASSWORD, next_: str | None = None):
    path = "/login" if next_ is None else "/login?" + urlencode({"next": next_})
    return client.post(path, data={"email": email, "password": password, "csrf_token": csrf_token(client)})


def html(response) -> str:
    return response.get_data(as_text=True)


def signup_data(**overrides: str) -> dict[str, str]:
    data = {
        "name": "申請 太郎",
        "email": "applicant@example.org",
        "organization": "サンプル市",
        "organization_kind": "municipality",
        "membership": "member",
        "password": "applicant-pass-123",
        "password_confirm": "applicant-pass-123",
    }
    data.update(overrides)
    return data


def sign_up(client, **overrides: str):
    return client.post("/signup", data={**signup_data(**overrides), "csrf_token": csrf_token(client, "/signup")})


def post_form(client, path: str, data: dict[str, str] | None = None, **kwargs):
    """POST with this session's CSRF token (read from the home page's footer form)."""
    return client.post(path, data={**(data or {}), "csrf_token": csrf_token(client, "/")}, **kwargs)


def counts(app) -> tuple[int, int, int]:
    """(users, organizations, outbox messages)"""
    with app.app_context():
        return (
            db.session.scalar(select(func.count()).select_from(User)),
            db.session.scalar(select(func.count()).select_from(Organization)),
            db.session.scalar(select(func.count()).select_from(OutboxMessage)),
        )


def get_user(app, email: str) -> User | None:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        if user is not None:
            db.session.expunge(user)
        return user


def set_state(app, email: str, state: AccountState) -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.email == email).values(state=state))
        db.session.commit()


def reset_link_path(message: OutboxMessage) -> str:
    match = RESET_LINK_RE.search(message.body)
    assert match, message.body
    link = urlsplit(match.group(0))
    assert link.netloc == "portal.test"  # PORTAL_BASE_URL in tests: a link that works outside the app
    return link.path


# ----------------------------------------------------------------------------- sign-up


def test_signup_creates_pending_account_and_mails_applicant_and_secretariat(app, client, outbox):
    response = sign_up(client)

    assert response.status_code == 200
    assert "利用申請を受け付けました" in html(response)
    user = get_user(app, "applicant@example.org")
    assert user is not None
    assert user.state is AccountState.PENDING
    assert user.name == "申請 太郎"
    assert user.role is Role.MEMBER

    to_applicant = outbox("account.signup_received")
    assert [m.recipients for m in to_applicant] == [["applicant@example.org"]]
    assert "申請 太郎" in to_applicant[0].body
    to_secretariat = outbox("account.signup_secretariat")
    assert [m.recipients for m in to_secretariat] == [[SECRETARIAT_BOX]]
    assert "申請 太郎" in to_secretariat[0].subject
    assert "サンプル市" in to_secretariat[0].subject
    assert "http://portal.test/secretariat/accounts" in to_secretariat[0].body
    assert len(outbox()) == 2


def test_observer_signup_gets_observer_role(app, client):
    assert (
        sign_up(
            client, membership="observer", organization="オブザーバー株式会社", organization_kind="company"
        ).status_code
        == 200
    )
    user = get_user(app, "applicant@example.org")
    assert user.role is Role.OBSERVER
    assert user.state is AccountState.PENDING


def test_email_is_stored_lower_case_and_login_ignores_case(app, client):
    assert sign_up(client, email="Mixed.Case@Example.ORG").status_code == 200
    assert get_user(app, "mixed.case@example.org") is not None
    set_state(app, "mixed.case@example.org", AccountState.ACTIVE)
    assert login(client, "MIXED.case@example.org", "applicant-pass-123").status_code == 302
    assert is_logged_in(client)


def test_logging_in_while_pending_is_refused_with_approval_message(app, client):
    sign_up(client)

    response = login(client, "applicant@example.org", "applicant-pass-123")

    assert response.status_code == 422
    assert "承認待ち" in html(response)
    assert not is_logged_in(client)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"email": "not-an-address"}, "email", "メールアドレスの形式が正しくありません。"),
        ({"password": "short", "password_confirm": "short"}, "password", "10文字以上"),
        ({"password_confirm": "applicant-pass-999"}, "password_confirm", "パスワードが一致しません。"),
        (
            {
                "email": "longaddress@example.org",
                "password": "longaddress@example.org",
                "password_confirm": "longaddress@example.org",
            },
            "password",
            "メールアドレスをパスワードにすることはできません。",
        ),
        ({"name": ""}, "name", "入力してください。"),
    ],
    ids=["bad-email", "short-password", "mismatched-confirmation", "password-is-email", "missing-name"],
)
def test_bad_signup_rerenders_with_field_error_and_creates_nothing(app, client, overrides, field, message):
    before = counts(app)

    response = sign_up(client, **overrides)

    assert response.status_code == 422
    page = html(response)
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', page)
    assert error, f"no error shown next to {field}"
    assert message in error.group(1)
    assert "利用申請を受け付けました" not in page
    assert counts(app) == before


def test_signup_with_a_registered_address_reveals_nothing_and_mails_the_owner(app, create_user, outbox):
    """Issue 12: "このメールアドレスは既に登録されています" told anyone which addresses have accounts.
    A registered address now gets the page a new one gets; its owner is mailed instead."""
    create_user("member", email="taken@example.org", org="既存市")
    fresh = sign_up(app.test_client(), email="newcomer@example.org", organization="新しい団体")
    assert fresh.status_code == 200
    before = counts(app)

    probe = sign_up(app.test_client(), email="Taken@Example.org", organization="別の新しい団体")

    assert probe.status_code == 200
    strip = re.compile(r'name="csrf_token"[^>]*value="[^"]*"')
    assert strip.sub("", html(probe)) == strip.sub("", html(fresh))  # not a word of difference
    assert "既に登録" not in html(probe)
    users, organizations, _ = counts(app)
    assert (users, organizations) == before[:2]  # no account, no organization created
    [notice] = outbox("account.signup_existing")
    assert notice.recipients == ["taken@example.org"]
    assert "/login" in notice.body and "/password-reset" in notice.body
    assert not [m for m in outbox("account.signup_secretariat") if "taken@example.org" in m.body]
    # The existing account is untouched: its owner still logs in with the old password.
    assert login(app.test_client(), "taken@example.org").status_code == 302


def test_signup_notices_to_an_owner_are_limited(make_app, create_user, outbox):
    app = make_app(SIGNUP_NOTICE_MAILS_PER_HOUR=2)
    create_user("member", email="taken@example.org")
    for _ in range(5):
        assert sign_up(app.test_client(), email="taken@example.org").status_code == 200
    assert len(outbox("account.signup_existing")) == 2


# ----------------------------------------------------------------------------- approval


def test_secretariat_approves_applicant_who_can_then_log_in(app, client, create_user, outbox):
    staff = create_user("secretariat")
    sign_up(app.test_client())
    applicant = get_user(app, "applicant@example.org")

    assert login(client, staff.email).status_code == 302
    listing = client.get("/secretariat/accounts?state=pending")
    assert listing.status_code == 200
    assert f'data-user-id="{applicant.id}"' in html(listing)
    assert "applicant@example.org" in html(listing)

    # The button only asks first (the applicant is mailed), with the chosen role carried along.
    path = f"/secretariat/accounts/{applicant.id}/approve"
    confirm = asks_first(post_form(client, path, {"role": "observer"}), path, mails=1)
    assert '<textarea name="role" hidden>\nobserver</textarea>' in confirm and "「オブザーバー」として承認" in confirm
    assert get_user(app, "applicant@example.org").state is AccountState.PENDING

    response = post_form(client, path, {"role": "observer", "confirmed": "1"})

    assert response.status_code == 302
    assert urlsplit(response.location).path == "/secretariat/accounts"
    approved = get_user(app, "applicant@example.org")
    assert approved.state is AccountState.ACTIVE
    assert approved.role is Role.OBSERVER  # the role chosen by the secretariat
    assert approved.decided_by_id == staff.id
    mails = outbox("account.approved")
    assert [m.recipients for m in mails] == [["applicant@example.org"]]
    assert "承認されました" in mails[0].subject
    assert "http://portal.test/login" in mails[0].body

    applicant_client = app.test_client()
    assert login(applicant_client, "applicant@example.org", "applicant-pass-123").status_code == 302
    account = applicant_client.get("/account")
    assert account.status_code == 200
    assert "オブザーバー" in html(account)


def test_approving_twice_sends_one_mail(app, client, create_user, outbox):
    staff = create_user("secretariat")
    sign_up(app.test_client())
    applicant = get_user(app, "applicant@example.org")
    login(client, staff.email)

    post_form(client, f"/secretariat/accounts/{applicant.id}/approve", {"role": "member", "confirmed": "1"})
    again = post_form(
        client, f"/secretariat/accounts/{applicant.id}/approve", {"role": "secretariat", "confirmed": "1"},
        follow_redirects=True
    )

    assert "既に処理されています" in html(again)
    assert get_user(app, "applicant@example.org").role is Role.MEMBER
    assert len(outbox("account.approved")) == 1


def test_secretariat_rejects_applicant_with_reason(app, client, create_user, outbox):
    staff = create_user("secretariat")
    sign_up(app.test_client())
    applicant = get_user(app, "applicant@example.org")
    login(client, staff.email)

    # The button only asks first (mailed, final): the reason is carried to the confirmation's form.
    path = f"/secretariat/accounts/{applicant.id}/reject"
    confirm = asks_first(post_form(client, path, {"reason": "名簿で確認できません"}), path, mails=1)
    assert '<textarea name="reason" hidden>\n名簿で確認できません</textarea>' in confirm
    assert "理由: 名簿で確認できません" in page_text(confirm)
    assert get_user(app, "applicant@example.org").state is AccountState.PENDING
    assert outbox("account.rejected") == []

    response = post_form(
        client, f"/secretariat/accounts/{applicant.id}/reject",
        {"reason": "所属団体が会員名簿で確認できませんでした", "confirmed": "1"}
    )

    assert response.status_code == 302
    assert get_user(app, "applicant@example.org").state is AccountState.REJECTED
    mails = outbox("account.rejected")
    assert [m.recipients for m in mails] == [["applicant@example.org"]]
    assert "所属団体が会員名簿で確認できませんでした" in mails[0].body
    assert outbox("account.approved") == []

    applicant_client = app.test_client()
    refused = login(applicant_client, "applicant@example.org", "applicant-pass-123")
    assert refused.status_code == 422
    assert "利用できません" in html(refused)
    assert not is_logged_in(applicant_client)


def test_member_cannot_approve(app, client, create_user, outbox):
    member = create_user("member")
    sign_up(app.test_client())
    applicant = get_user(app, "applicant@example.org")
    login(client, member.email)

    response = post_form(client, f"/secretariat/accounts/{applicant.id}/approve", {"role": "secretariat"})

    assert response.status_code == 403
    assert get_user(app, "applicant@example.org").state is AccountState.PENDING
    assert outbox("account.approved") == []


# ----------------------------------------------------------------------------- log-in, log-out


def test_login_and_logout(app, client, create_user):
    member = create_user("member", name="会員 花子")

    response = login(client, member.email)
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/"
    home = html(client.get("/"))
    assert "ようこそ、会員 花子 さん。" in home
    assert "ログアウト" in home
    assert is_logged_in(client)
    with app.app_context():
        assert db.session.get(User, member.id).last_login_at is not None

    response = post_form(client, "/logout")
    assert response.status_code == 302
    assert "ログアウトしました。" in html(client.get("/"))
    assert not is_logged_in(client)


def test_wrong_password_and_unknown_address_get_the_same_generic_error(app, client, create_user):
    member = create_user("member")

    wrong = login(client, member.email, "not-the-password")
    unknown = login(client, "nobody@example.org", "not-the-password")

    for response in (wrong, unknown):
        assert response.status_code == 422
        assert GENERIC_ERROR in html(response)
    assert not is_logged_in(client)


def lock_out(client, email: str, attempts: int = 5) -> None:
    for _ in range(attempts):
        response = login(client, email, "wrong-password-x")
        assert response.status_code == 422
        assert GENERIC_ERROR in html(response)


def test_five_failures_lock_the_address_but_not_others(app, client, create_user):
    target = create_user("member")
    other = create_user("member")

    lock_out(client, target.email)
    refused = login(client, target.email)  # the right password now

    assert refused.status_code == 422
    assert "一時的に制限" in html(refused)
    assert not is_logged_in(client)
    # The lock is per address, whatever its spelling.
    assert "一時的に制限" in html(login(client, target.email.upper()))

    assert login(client, other.email).status_code == 302
    assert is_logged_in(client)


def test_failures_below_the_limit_do_not_lock_and_success_clears_them(app, client, create_user):
    member = create_user("member")

    lock_out(client, member.email, attempts=4)
    assert login(client, member.email).status_code == 302
    post_form(client, "/logout")
    lock_out(client, member.email, attempts=4)  # counting starts again after a success

    assert login(client, member.email).status_code == 302


def test_lock_applies_to_address_without_account(make_app, create_user):
    # A delay far longer than the test (a loaded machine takes seconds for ten password hashes).
    client = make_app(LOGIN_DELAY_SECONDS=60).test_client()
    member = create_user("member")
    lock_out(client, member.email)
    lock_out(client, "ghost@example.org")

    known = login(client, member.email, "wrong-password-x")
    unknown = login(client, "ghost@example.org", "wrong-password-x")

    assert "一時的に制限" in html(unknown)
    # Same message either way (but the seconds left): the lock says nothing about whether an account exists.
    known_error = re.search(r'role="alert">([^<]*)<', html(known)).group(1)
    unknown_error = re.search(r'role="alert">([^<]*)<', html(unknown)).group(1)
    assert re.sub(r"\d+", "N", known_error) == re.sub(r"\d+", "N", unknown_error)


def test_login_works_again_after_the_delay(make_app, create_user):
    """Five failures slow the account down for LOGIN_DELAY_SECONDS, not a 15-minute lock."""
    import time

    app = make_app(LOGIN_DELAY_SECONDS=1, LOGIN_MAX_DELAY_SECONDS=1)
    client = app.test_client()
    member = create_user("member")
    lock_out(client, member.email)
    assert "一時的に制限" in html(login(client, member.email))

    time.sleep(1.2)  # the delay passes
    assert login(client, member.email).status_code == 302
    assert is_logged_in(client)


def test_delay_comes_from_config_and_grows(make_app, create_user):
    app = make_app(LOGIN_DELAY_SECONDS=7, LOGIN_MAX_DELAY_SECONDS=100)
    member = create_user("member")
    with app.app_context():
        for _ in range(5):
            assert authentication.authenticate(member.email, "wrong").user is None
        during = authentication.authenticate(member.email, PASSWORD)
        assert during.user is None and "約7秒後" in during.error
        db.session.rollback()


# ----------------------------------------------------------------------------- password reset


def request_reset(client, email: str):
    return client.post("/password-reset", data={"email": email, "csrf_token": csrf_token(client, "/password-reset")})


def set_new_password(client, path: str, password: str = NEW_PASSWORD, confirm: str | None = None):
    return client.post(
        path,
        data={
            "password": password,
            "password_confirm": password if confirm is None else confirm,
            "csrf_token": csrf_token(client, "/login"),
        },
    )


def test_password_reset_link_sets_new_password_once(app, client, create_user, outbox):
    member = create_user("member")

    sent = request_reset(client, member.email)
    assert sent.status_code == 200
    assert "再設定用のリンクをメールでお送りしました" in html(sent)
    mails = outbox("account.password_reset")
    assert [m.recipients for m in mails] == [[member.email]]
    path = reset_link_path(mails[0])
    with app.app_context():  # only a hash of the token is stored
        stored = db.session.scalars(select(PasswordResetToken.token_hash)).all()
        assert path.rsplit("/", 1)[-1] not in stored

    form = client.get(path)
    assert form.status_code == 200
    assert "新しいパスワードの設定" in html(form)
    done = set_new_password(client, path)
    assert done.status_code == 302
    assert urlsplit(done.location).path == "/login"
    assert "パスワードを再設定しました" in html(client.get("/login"))

    old = login(client, member.email, PASSWORD)
    assert old.status_code == 422
    assert GENERIC_ERROR in html(old)
    assert login(client, member.email, NEW_PASSWORD).status_code == 302
    assert is_logged_in(client)
    with app.app_context():
        stored_hash = db.session.get(User, member.id).password_hash
    assert NEW_PASSWORD not in stored_hash

    # Once only: the link now answers 404, and posting to it changes nothing.
    second = app.test_client()
    assert second.get(path).status_code == 404
    again = set_new_password(second, path, "third-password-xyz")
    assert again.status_code == 404
    assert "リンクが無効です" in html(again)
    assert login(second, member.email, "third-password-xyz").status_code == 422


def test_expired_reset_link_is_refused(app, client, create_user, outbox):
    member = create_user("member")
    request_reset(client, member.email)
    path = reset_link_path(outbox("account.password_reset")[0])
    with app.app_context():
        db.session.execute(update(PasswordResetToken).values(expires_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()

    assert client.get(path).status_code == 404
    refused = set_new_password(client, path)
    assert refused.status_code == 404
    assert "リンクが無効です" in html(refused)
    assert login(client, member.email, NEW_PASSWORD).status_code == 422
    assert login(client, member.email, PASSWORD).status_code == 302


def test_reset_link_expires_after_configured_age(make_app, create_user, outbox):
    app = make_app(PASSWORD_RESET_MAX_AGE_SECONDS=0)
    client = app.test_client()
    member = create_user("member")
    request_reset(client, member.email)
    path = reset_link_path(outbox("account.password_reset")[0])

    assert client.get(path).status_code == 404
    assert set_new_password(client, path).status_code == 404
    assert login(client, member.email, PASSWORD).status_code == 302


def test_bad_new_password_keeps_the_link_usable(app, client, create_user, outbox):
    member = create_user("member")
    request_reset(client, member.email)
    path = reset_link_path(outbox("account.password_reset")[0])

    mismatch = set_new_password(client, path, NEW_PASSWORD, "something-else-12")
    assert mismatch.status_code == 422
    assert "パスワードが一致しません。" in html(mismatch)
    short = set_new_password(client, path, "short")
    assert short.status_code == 422
    assert "10文字以上" in html(short)
    assert login(client, member.email, PASSWORD).status_code == 302  # unchanged so far
    post_form(client, "/logout")

    assert set_new_password(client, path).status_code == 302
    assert login(client, member.email, NEW_PASSWORD).status_code == 302


def test_new_reset_link_and_use_kills_older_links(app, client, create_user, outbox):
    member = create_user("member")
    request_reset(client, member.email)
    request_reset(client, member.email)
    first, second = (reset_link_path(m) for m in outbox("account.password_reset"))
    assert first != second

    assert set_new_password(client, second).status_code == 302
    assert client.get(first).status_code == 404


def test_unknown_or_pending_address_gets_same_page_and_no_mail(app, client, create_user, outbox):
    member = create_user("member")
    pending = create_user("member", state="pending")
    before = len(outbox())

    known = request_reset(client, member.email)
    after_known = len(outbox())
    unknown = request_reset(client, "stranger@example.org")
    not_active = request_reset(client, pending.email)

    assert after_known == before + 1
    assert len(outbox()) == after_known  # no mail for the unknown or pending address

    def main(response) -> str:
        return re.search(r"<main.*</main>", html(response), re.S).group(0)

    assert unknown.status_code == known.status_code == not_active.status_code == 200
    assert main(unknown) == main(known) == main(not_active)


def test_reset_clears_a_lock(app, client, create_user, outbox):
    member = create_user("member")
    lock_out(client, member.email)
    request_reset(client, member.email)
    path = reset_link_path(outbox("account.password_reset")[0])

    set_new_password(client, path)

    assert login(client, member.email, NEW_PASSWORD).status_code == 302


# ----------------------------------------------------------------------------- CSRF


def test_login_without_csrf_token_is_400_and_does_not_log_in(app, client, create_user):
    member = create_user("member")
    client.get("/login")  # a session exists

    response = client.post("/login", data={"email": member.email, "password": PASSWORD})

    assert response.status_code == 400
    assert not is_logged_in(client)
    with app.app_context():
        assert db.session.get(User, member.id).last_login_at is None


def test_login_with_forged_csrf_token_is_400(app, client, create_user):
    member = create_user("member")
    client.get("/login")

    response = client.post("/login", data={"email": member.email, "password": PASSWORD, "csrf_token": "forged"})

    assert response.status_code == 400
    assert not is_logged_in(client)


def test_logout_without_csrf_token_is_400_and_keeps_session(app, client, create_user):
    member = create_user("member")
    login(client, member.email)

    response = client.post("/logout")

    assert response.status_code == 400
    assert is_logged_in(client)


def test_signup_without_csrf_token_is_400_and_creates_nothing(app, client):
    client.get("/signup")
    before = counts(app)

    response = client.post("/signup", data=signup_data())

    assert response.status_code == 400
    assert counts(app) == before
    assert get_user(app, "applicant@example.org") is None


def test_approve_without_csrf_token_is_400_and_changes_nothing(app, client, create_user, outbox):
    staff = create_user("secretariat")
    applicant = create_user("member", state="pending")
    login(client, staff.email)

    response = client.post(f"/secretariat/accounts/{applicant.id}/approve", data={"role": "member"})

    assert response.status_code == 400
    assert get_user(app, applicant.email).state is AccountState.PENDING
    assert outbox("account.approved") == []


# ----------------------------------------------------------------------------- back-office access


BACK_OFFICE = ["/secretariat/", "/secretariat/accounts", "/secretariat/outbox"]


@pytest.mark.parametrize("path", BACK_OFFICE)
def test_back_office_sends_visitors_to_login(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert urlsplit(response.location).path == "/login"
    assert "承認待ち" not in html(response)


@pytest.mark.parametrize("role", ["member", "observer"])
def test_back_office_is_forbidden_to_members_and_observers(client, create_user, role):
    user = create_user(role)
    create_user("member", state="pending", email="waiting@example.org")
    login(client, user.email)

    for path in BACK_OFFICE:
        response = client.get(path)
        assert response.status_code == 403, path
        assert "waiting@example.org" not in html(response)
        assert "アクセスできません" in html(response)


def test_back_office_opens_for_secretariat(client, create_user):
    staff = create_user("secretariat")
    create_user("member", state="pending", email="waiting@example.org")
    login(client, staff.email)

    pages = {path: client.get(path) for path in BACK_OFFICE}

    assert all(r.status_code == 200 for r in pages.values()), {p: r.status_code for p, r in pages.items()}
    assert "承認待ちの利用申請" in html(pages["/secretariat/"])
    assert "waiting@example.org" in html(pages["/secretariat/accounts"])


def test_back_office_closed_to_secretariat_account_that_is_not_active(app, client, create_user):
    staff = create_user("secretariat", state="pending")
    assert login(client, staff.email).status_code == 422
    assert urlsplit(client.get("/secretariat/").location).path == "/login"


# ----------------------------------------------------------------------------- next, sessions, hashing


def test_login_follows_same_site_next(client, create_user):
    member = create_user("member")

    gate = client.get("/account")
    assert gate.status_code == 302
    assert urlsplit(gate.location).path == "/login"

    response = login(client, member.email, next_="/account")

    assert response.status_code == 302
    assert urlsplit(response.location).netloc in ("", "localhost")
    assert urlsplit(response.location).path == "/account"
    assert client.get(response.location).status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example",
        "///evil.example/x",
        "/\\evil.example",
        "http:/evil.example",
        "javascript:alert(1)",
    ],
)
def test_login_does_not_follow_offsite_next(client, create_user, target):
    member = create_user("member")

    response = login(client, member.email, next_=target)

    assert response.status_code == 302
    location = urlsplit(response.location)
    assert location.netloc in ("", "localhost")
    assert location.path == "/"
    assert "evil" not in response.location
    assert is_logged_in(client)


def test_deactivated_account_loses_its_session(app, client, create_user):
    member = create_user("member")
    login(client, member.email)
    assert is_logged_in(client)

    set_state(app, member.email, AccountState.DEACTIVATED)

    response = client.get("/account")
    assert response.status_code == 302
    assert urlsplit(response.location).path == "/login"
    refused = login(client, member.email)
    assert refused.status_code == 422
    assert "利用できません" in html(refused)


def test_passwords_are_stored_hashed(app, client, create_user):
    create_user("member", email="factory@example.org")
    sign_up(client)

    with app.app_context():
        stored = dict(db.session.execute(select(User.email, User.password_hash)).all())
    assert stored["factory@example.org"] != PASSWORD
    assert PASSWORD not in stored["factory@example.org"]
    assert stored["applicant@example.org"] != "applicant-pass-123"
    assert "applicant-pass-123" not in stored["applicant@example.org"]
    assert stored["factory@example.org"] != stored["applicant@example.org"]
