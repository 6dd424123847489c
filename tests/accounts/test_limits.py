"""Limits that fit city halls (issue 12, item 7): many people behind one address, guessing slowed
per account, mails per recipient, limits shared by every process, no timing tell for unknown accounts.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator

import pytest
from conftest import DEFAULT_PASSWORD, csrf_token, free_port, is_logged_in

from portal.accounts import authentication

WAIT = "一時的に制限"


def login(client, email: str, password: str = DEFAULT_PASSWORD):
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_token(client)})


def from_address(app, address: str):
    client = app.test_client()
    client.environ_base["REMOTE_ADDR"] = address
    return client


def test_100_accounts_behind_one_address_all_log_in_within_a_minute(make_app, create_user):
    """A city hall's proxy: one address, a hundred attendees at 15:25. Limits are on."""
    limited = make_app(RATELIMIT_ENABLED=True)
    users = [create_user("member") for _ in range(100)]
    start = time.monotonic()
    for user in users:
        client = from_address(limited, "203.0.113.10")
        response = login(client, user.email)
        assert response.status_code == 302, (user.email, response.status_code)
    assert time.monotonic() - start < 60


def test_default_address_limit_lets_1000_accounts_in_within_10_minutes(make_app):
    from limits import parse_many

    app = make_app()
    items = parse_many(app.config["RATELIMIT_LOGIN"])
    for item in items:
        allowed_in_10_minutes = item.amount * max(1, 600 // item.get_expiry())
        assert allowed_in_10_minutes >= 1000, str(item)


def test_guessing_slows_that_account_only(make_app, create_user):
    """30 wrong passwords for one account from a shared address: that account waits, a colleague
    at the same address logs in at once."""
    limited = make_app(RATELIMIT_ENABLED=True)
    target, colleague = create_user("member"), create_user("member")
    attacker = from_address(limited, "203.0.113.20")
    statuses = [login(attacker, target.email, f"wrong-password-{i}") for i in range(30)]
    assert all(r.status_code == 422 for r in statuses)
    assert any(WAIT in r.get_data(as_text=True) for r in statuses)
    refused = login(attacker, target.email)  # even the right password waits now
    assert refused.status_code == 422 and WAIT in refused.get_data(as_text=True)

    office = from_address(limited, "203.0.113.20")
    assert login(office, colleague.email).status_code == 302
    assert is_logged_in(office)


def test_an_attacker_cannot_lock_the_owner_out(make_app, create_user):
    """Wrong passwords from elsewhere slow the owner by seconds at most, never 15 minutes."""
    app = make_app(LOGIN_DELAY_SECONDS=1, LOGIN_MAX_DELAY_SECONDS=1)
    owner = create_user("member")
    attacker = from_address(app, "198.51.100.66")
    for i in range(30):
        login(attacker, owner.email, f"wrong-password-{i}")

    home = from_address(app, "203.0.113.30")
    time.sleep(1.2)  # the (configured) longest delay
    assert login(home, owner.email).status_code == 302
    assert is_logged_in(home)


def test_the_default_delay_is_far_below_a_lock(make_app):
    app = make_app()
    assert app.config["LOGIN_MAX_DELAY_SECONDS"] <= 60
    assert "LOGIN_LOCK_SECONDS" not in app.config


def test_reset_mails_per_recipient_are_limited_silently(make_app, create_user, outbox):
    """Anyone may ask for anyone's reset; the owner's inbox gets a few an hour, the page says the same."""
    app = make_app(PASSWORD_RESET_MAILS_PER_HOUR=3)
    member = create_user("member")
    pages = []
    for i in range(8):
        client = from_address(app, f"198.51.100.{i + 1}")  # many addresses: the per-address limit does not help
        response = client.post("/password-reset", data={"email": member.email,
                                                         "csrf_token": csrf_token(client, "/password-reset")})
        assert response.status_code == 200
        pages.append(response.get_data(as_text=True))
    assert len(outbox("account.password_reset")) == 3
    assert len({p.replace(csrf_token_value(p), "") for p in pages}) == 1


def csrf_token_value(page: str) -> str:
    import re

    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page)
    return match.group(1) if match else ""


def test_unknown_account_costs_a_password_hash(app, monkeypatch):
    """An unknown address runs the same password check as a wrong password (no timing tell)."""
    calls = []
    real = authentication.check_password_hash

    def spy(pwhash: str, password: str) -> bool:
        calls.append(password)
        return real(pwhash, password)

    monkeypatch.setattr(authentication, "check_password_hash", spy)
    with app.app_context():
        result = authentication.authenticate("nobody-here@example.org", "some-password-1")
    assert result.user is None and result.error == authentication.GENERIC_LOGIN_ERROR
    assert calls == ["some-password-1"]


# ---------------------------------------------------------------------- shared by every process


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture
def redis_url() -> Iterator[str]:
    if _answers(6379):
        yield "redis://127.0.0.1:6379"
        return
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("no Redis answers on 6379 and redis-server is not installed")
    port = free_port()
    process = subprocess.Popen([server, "--port", str(port), "--save", "", "--appendonly", "no"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            if _answers(port):
                break
            time.sleep(0.1)
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_two_processes_share_the_counts_through_redis(make_app, create_user, redis_url):
    """Attempts counted by one app instance are seen by the other (gunicorn -w 2)."""
    settings = {"RATELIMIT_STORAGE_URI": redis_url, "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}/"}
    first, second = make_app(**settings), make_app(**settings)
    member = create_user("member")
    one = from_address(first, "203.0.113.40")
    for i in range(5):
        assert WAIT not in login(one, member.email, f"wrong-password-{i}").get_data(as_text=True)

    other = from_address(second, "203.0.113.40")
    refused = login(other, member.email)
    assert refused.status_code == 422 and WAIT in refused.get_data(as_text=True)

    import redis

    keys = redis.Redis.from_url(redis_url).keys("*" + settings["RATELIMIT_KEY_PREFIX"] + "*")
    assert any(b"login/" + member.email.encode() in key for key in keys), keys


def test_per_address_limit_is_shared_through_redis(make_app, redis_url):
    settings = {"RATELIMIT_STORAGE_URI": redis_url, "RATELIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}/",
                "RATELIMIT_ENABLED": True, "RATELIMIT_LOGIN": "3 per minute"}
    first, second = make_app(**settings), make_app(**settings)
    # Flask-Limiter keeps the key prefix of the first app in this process: a fresh address instead.
    address = f"2001:db8::{uuid.uuid4().hex[:4]}:{uuid.uuid4().hex[:4]}"
    for i in range(3):
        assert login(from_address(first, address), f"x{i}@example.org", "wrong-password-1").status_code == 422
    assert login(from_address(second, address), "y@example.org", "wrong-password-1").status_code == 429


def test_memory_storage_warns_at_start_outside_tests(make_app, caplog):
    with caplog.at_level("WARNING"):
        make_app(TESTING=False, RATELIMIT_STORAGE_URI="memory://")
    assert "PORTAL_RATELIMIT_STORAGE_URI=redis://" in caplog.text
