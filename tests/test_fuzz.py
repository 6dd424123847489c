"""Property tests (Hypothesis): hostile input to every form and to the importer.

Random and hostile values -- long strings, control characters, NUL, unicode (Japanese, emoji,
right-to-left marks), HTML and script, SQL fragments, template syntax, huge and negative numbers,
impossible dates, several values for one field, a file where text is expected -- go to sign-up,
log-in, the password-reset request, the secretariat's seminar and program item forms, the
question form (a registered attendee, Q&A open), the subcommittee proposal form, a lead's session
and milestone forms, and the query strings of pages with filters; random JSON-like structures go
to ``import_data`` and random bytes to ``flask portal import``.

The properties:

- never a 500 (TESTING propagates exceptions, so a would-be 500 fails the example), and for the
  importer never an exception other than ImportFailed (the CLI: exit code 0 or 1, no traceback);
- a rejection -- a 4xx, an error flash after a redirect, ImportFailed, exit code 1 -- changes no
  record: every table (audit_events aside) is compared before and after;
- submitted script is never echoed unescaped; what the importer accepts, the portal can show.

Each test builds its app once and reuses it for every example; ``@example`` pins the hostile
inputs that once broke something, so they run every time; no example database is written.
"""

from __future__ import annotations

import io
import json
import re
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import AuthActions, csrf_token
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from portal.accounts.models import Membership, OrganizationKind
from portal.core.dates import fiscal_year, today_local
from portal.core.db import db
from portal.imports.checks import (
    ACTIVITY_KEYS,
    CONTACT_KEYS,
    MILESTONE_KEYS,
    ORG_KEYS,
    PRESENTER_KEYS,
    PROGRAM_KEYS,
    SEMINAR_KEYS,
    SERIES_KEYS,
    SESSION_KEYS,
    SUBCOMMITTEE_KEYS,
    ImportFailed,
)
from portal.imports.operations import import_data
from portal.seminars.models import ProgramItem, Seminar
from portal.subcommittees.models import (
    TARGET_FIELDS,
    MembershipState,
    Subcommittee,
    SubcommitteeMember,
    SubcommitteeSession,
)

SERIES = "官民連携プラットフォーム オンラインセミナー"
UNTRACKED_TABLES = {"audit_events"}  # grows on refusals, legitimately
SEMINAR_DAY = today_local() + timedelta(days=21)  # the fuzzed seminar's day
FY = fiscal_year(SEMINAR_DAY)
HUGE = "9" * 400  # an integer no float holds
PASSWORD = "correct-horse-battery-staple"


def fuzz_settings(examples: int) -> settings:
    # No "explain" phase: on a failure it reruns the test many times and takes longer than the search.
    return settings(
        max_examples=examples, deadline=None, database=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                               HealthCheck.data_too_large],
    )


# ----------------------------------------------------------------------------- snapshots


def snapshot(app) -> dict[str, list[tuple]]:
    with app.app_context():
        out = {}
        for table in db.metadata.sorted_tables:
            if table.name not in UNTRACKED_TABLES:
                out[table.name] = [tuple(r) for r in
                                   db.session.execute(select(table).order_by(*table.primary_key.columns)).all()]
        db.session.rollback()
        return out


def diff(before: dict[str, list[tuple]], after: dict[str, list[tuple]]) -> str:
    changes = []
    for name in sorted(set(before) | set(after)):
        old, new = before.get(name, []), after.get(name, [])
        if old != new:
            added = [r for r in new if r not in old]
            removed = [r for r in old if r not in new]
            changes.append(f"{name}: {len(old)}→{len(new)} rows; +{added[:2]!r} -{removed[:2]!r}")
    return "; ".join(changes)


# ----------------------------------------------------------------------------- strategies

XSS = ("<script>alert(1)</script>", '"><img src=x onerror=alert(1)>')
HOSTILE = [
    "", " ", "\t", "\r\n", "\n\n\n", "\x00", "a\x00b", "\x1b[31m", "\x7f", "\x08", "\u200b", "\u202e", "\ufeff",
    *XSS, "javascript:alert(1)", "<b>太字</b>", "&amp;&lt;", "' OR '1'='1", "1'; DROP TABLE users; --",
    '" OR 1=1 --', "%", "_", "\\", "%s%n%x", "{{ 7*7 }}", "{% raw %}", "${jndi:ldap://x}", "../../../etc/passwd",
    "NaN", "Infinity", "-1", "0", "-0", "1e309", "0x10", "99999999999999999999999999", str(2**31), str(2**63),
    str(-(2**63) - 1), HUGE, "2021-02-30", "2021-13-01", "0000-01-01", "0001-01-01", "9999-12-31", "2021-04",
    "0000-01", "2021-00", "2021W011", "24:00", "23:59", "25:61", "00:00", "0001-01-01T00:00", "9999-12-31T23:59",
    "2021-08-03T15:30", "東京都千代田区霞が関", "ネット・ゼロ スマートシティ検討分科会",
    "前橋市 / 未来創造部 / 山田 太郎",
    "活動1 / デスクリサーチ / 2021-09 / 2021-13", "活動1 / 調査 / 0000-01", "氏名 / 所属 / 部署 / not-an-email",
    "ｱｲｳｴｵ", "🏙️🚲", "𠮷野家", "Ａ１＠ｅｘａｍｐｌｅ．ｏｒｇ", "a" * 255 + "@example.org", "x" * 301, "あ" * 201,
    "line\n" * 300, "/" * 60, "／" * 60, "https://example.org/" + "a" * 600, "mailto:x@example.org",
]
hostile_text = st.one_of(
    st.sampled_from(HOSTILE),
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.text(alphabet=st.characters(codec="utf-8", categories=["Cc", "Cf", "Zs", "Lo", "So"]), max_size=20),
    st.integers().map(str),
    st.builds(lambda s, n: s * n, st.sampled_from(["x", "あ", "/ ", "\n", "<>", "9", "🏙"]), st.integers(0, 6000)),
)
OMIT = object()


def field(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A form field's value: a valid one, a hostile one, several values at once, or none at all."""
    return st.one_of(valid, valid, hostile_text, st.lists(hostile_text, min_size=2, max_size=3), st.just(OMIT))


def form(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({name: field(s) for name, s in fields.items()}).map(
        lambda d: {k: v for k, v in d.items() if v is not OMIT})


def text_of(*samples: str) -> st.SearchStrategy[str]:
    """Realistic values (and the field's own edge cases), or any short text."""
    return st.one_of(st.sampled_from(samples), st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=30))


def fill(data: dict[str, Any], **values: Any) -> dict[str, Any]:
    """Put ids known only at run time in place of "{name}" placeholders."""
    def one(v: Any) -> Any:
        return str(values[v[1:-1]]) if isinstance(v, str) and v[1:-1] in values and v[:1] + v[-1:] == "{}" else v
    return {k: [one(x) for x in v] if isinstance(v, list) else one(v) for k, v in data.items()}


# ----------------------------------------------------------------------------- HTTP helpers


class Browser:
    """One client (logged in or not) and its CSRF token."""

    def __init__(self, app, user: Any = None):
        self.client = app.test_client()
        if user is not None:
            response = AuthActions(self.client).login(user)
            assert response.status_code == 302, response.status_code
        self.token = csrf_token(self.client, "/login")

    def post(self, path: str, data: dict[str, Any]):
        return self.client.post(path, data={**data, "csrf_token": self.token})

    def flashes(self) -> list[tuple[str, str]]:
        with self.client.session_transaction() as session:
            return list(session.pop("_flashes", []))


def submitted(data: dict[str, Any]) -> list[str]:
    values = []
    for value in data.values():
        values.extend(value if isinstance(value, list) else [value])
    return [v for v in values if isinstance(v, str)]


def assert_not_echoed(data: dict[str, Any], body: str) -> None:
    for marker in XSS:
        if any(marker in value for value in submitted(data)):
            assert marker not in body, f"{marker!r} echoed unescaped"


def post_and_check(app, browser: Browser, path: str, data: dict[str, Any], *, accepted: set[int],
                   rejected: set[int], flash_decides: bool = False) -> bool:
    """POST hostile data; the property: a known status, no 500, a refusal changes nothing.

    Returns whether the form was accepted."""
    before = snapshot(app)
    response = browser.post(path, data)
    status = response.status_code
    assert status < 500, f"{path}: {status}"
    # 400: malformed input (a NUL byte, a file where text belongs) refused before any view.
    rejected = rejected | {400}
    assert status in accepted | rejected, f"{path}: unexpected status {status}"
    assert_not_echoed(data, response.get_data(as_text=True))
    flashes = browser.flashes()
    refused = status in rejected or (flash_decides and any(category == "error" for category, _ in flashes))
    if refused:
        changed = diff(before, snapshot(app))
        assert not changed, f"{path} refused the form ({status}, {flashes}) but changed records: {changed}"
    return not refused


def import_records(app, data: dict[str, Any]) -> None:
    with app.app_context():
        import_data(data)
        db.session.commit()


def upcoming_seminar(key: str) -> dict[str, Any]:
    return {
        "key": key, "series": SERIES, "fiscal_year": FY, "number": 7, "title": f"ファズ {key}",
        "date": SEMINAR_DAY.isoformat(), "start": "15:30", "end": "17:00", "status": "published",
        "registration": "open", "qa": "open", "join_url": f"https://example.org/webinar/{key}",
        "program": [
            {"start": "15:30", "title": "イントロダクション", "points": ["本日のプログラム紹介"],
             "presenters": [{"organization": "総務省", "department": "サイバーセキュリティ統括官室"}]},
            {"start": "15:45", "title": "前橋市の取組紹介", "presenters": [{"organization": "前橋市"}]},
        ],
    }


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture
def visitor(app) -> Browser:
    return Browser(app)


@pytest.fixture
def member(app, create_user):
    return create_user("member", email="fuzz.member@example.org")


@pytest.fixture
def secretariat(app, create_user) -> Browser:
    return Browser(app, create_user("secretariat", email="fuzz.secretariat@example.org"))


@pytest.fixture
def seminar_id(app) -> int:
    import_records(app, {"seminars": [upcoming_seminar("fuzz-1")]})
    with app.app_context():
        return db.session.scalar(select(Seminar.id).where(Seminar.key == "fuzz-1"))


@pytest.fixture
def attendee(app, member, seminar_id) -> Browser:
    """The member, registered for the fuzzed seminar, whose Q&A is open."""
    browser = Browser(app, member)
    response = browser.post(f"/seminars/{seminar_id}/registration", {})
    assert response.status_code == 302
    assert [c for c, _ in browser.flashes()] == ["success"]
    return browser


@pytest.fixture
def lead(app, create_user) -> Browser:
    import_records(app, {"subcommittees": [{
        "slug": "fuzz-sub", "name": "ファズ分科会", "fiscal_year": 2021,
        "sessions": [{"number": n, "title": f"第{n}回", "date": f"2021-{8 + n:02d}"} for n in range(1, 5)],
        "milestones": [{"title": "分科会立上げ", "due": "2021-09-30"}, {"title": "報告書作成", "due": "2022-03-31"}],
    }]})
    user = create_user("member", email="fuzz.lead@example.org")
    with app.app_context():
        sub_id = db.session.scalar(select(Subcommittee.id).where(Subcommittee.slug == "fuzz-sub"))
        db.session.add(SubcommitteeMember(subcommittee_id=sub_id, user_id=user.id, is_lead=True,
                                          state=MembershipState.APPROVED))
        db.session.commit()
    return Browser(app, user)


def ids_of(app, model, *where) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(model.id).where(*where).order_by(model.id)))


# ----------------------------------------------------------------------------- accounts


@st.composite
def signup_forms(draw) -> dict[str, Any]:
    password = draw(text_of(PASSWORD, "長いパスフレーズですよ十文字以上"))
    return draw(form(
        name=text_of("山田 太郎", "Jane Doe", "名" * 201),
        email=st.integers(0, 10**6).map(lambda n: f"fuzz{n}@example.org"),
        organization=text_of("前橋市", "浜松市", "新しい団体"),
        organization_kind=st.sampled_from([k.value for k in OrganizationKind]),
        membership=st.sampled_from([m.value for m in Membership]),
        password=st.just(password),
        password_confirm=st.one_of(st.just(password), text_of("different-password")),
    ))


SIGNUP = {"name": "山田 太郎", "email": "nul@example.org", "organization": "前橋市",
          "organization_kind": "municipality", "membership": "member", "password": PASSWORD,
          "password_confirm": PASSWORD}


@fuzz_settings(60)
@given(data=signup_forms())
@example(data={**SIGNUP, "name": "山田\x00太郎"})
@example(data={**SIGNUP, "organization": "前橋市\x00"})
def test_signup_survives_hostile_input(app, visitor, data):
    post_and_check(app, visitor, "/signup", data, accepted={200}, rejected={422})


@fuzz_settings(50)
@given(data=form(
    email=st.sampled_from(["fuzz.member@example.org", " FUZZ.MEMBER@example.org ", "nobody@example.org",
                           "a" * 300 + "@example.org", "nul\x00@example.org"]),
    password=text_of("wrong-password-123", "correct-horse-battery"),
))
@example(data={"email": "a" * 300 + "@example.org", "password": "wrong-password-123"})
@example(data={"email": "nul\x00@example.org", "password": "wrong-password-123"})
def test_login_survives_hostile_input(app, member, visitor, data):
    before = snapshot(app)
    response = visitor.post("/login", data)
    assert response.status_code in (302, 400, 422), response.status_code
    assert_not_echoed(data, response.get_data(as_text=True))
    if response.status_code == 302:  # the right password: log out for the next example
        visitor.client.post("/logout", data={"csrf_token": visitor.token})
    else:
        assert not diff(before, snapshot(app))


@fuzz_settings(50)
@given(data=form(email=st.sampled_from(["fuzz.member@example.org", "Fuzz.Member@Example.org", "nobody@example.org",
                                        "nul\x00@example.org"])))
@example(data={"email": "nul\x00@example.org"})
def test_password_reset_request_survives_hostile_input(app, member, visitor, data):
    before = snapshot(app)
    response = visitor.post("/password-reset", data)
    assert response.status_code in (200, 400, 422), response.status_code
    assert_not_echoed(data, response.get_data(as_text=True))
    email = data.get("email")
    first = email[0] if isinstance(email, list) else email
    if not (isinstance(first, str) and first.strip().lower() == "fuzz.member@example.org"):
        # Unknown or malformed addresses: nothing is stored, nothing is mailed.
        assert not diff(before, snapshot(app))


# ----------------------------------------------------------------------------- back office


@st.composite
def seminar_forms(draw) -> dict[str, Any]:
    precision = draw(st.sampled_from(["day", "early", "mid", "late", "month", "undecided"]))
    day = f"{FY}-08-03" if precision == "day" else f"{FY + 1}-01" if precision != "undecided" else ""
    return draw(form(
        series_id=st.sampled_from(["{series}", "0", "-1"]),
        number=st.one_of(st.integers(-5, 1200).map(str), st.just(HUGE)),
        title=text_of("前橋市・浜松市・岡崎市による取組紹介・意見交換", ""),
        description=text_of("説明文です。"),
        precision=st.just(precision),
        date=st.sampled_from([day, f"{FY}-04-01", f"{FY + 2}-01-01"]),
        start=st.sampled_from(["15:30", "09:00", ""]),
        end=st.sampled_from(["17:00", "15:00", ""]),
        status=st.sampled_from(["draft", "published", "cancelled"]),
        capacity=st.one_of(st.integers(-5, 200_000).map(str), st.just(HUGE)),
        registration_open=st.sampled_from(["y", ""]),
        registration_opens_at=st.sampled_from([f"{FY}-07-01T10:00", "", "0001-01-01T00:00", "9999-12-31T23:59"]),
        registration_closes_at=st.sampled_from([f"{FY}-07-31T17:00", "", "0001-01-01T00:01"]),
        join_url=st.sampled_from(["https://example.org/webinar/1", "", "javascript:alert(1)"]),
        mailbox=st.sampled_from(["box@example.org", "", "not-an-address"]),
    ))


SEMINAR = {"series_id": "{series}", "precision": "day", "date": f"{FY}-08-03", "status": "draft", "title": "テーマ"}


@fuzz_settings(60)
@given(data=seminar_forms(), edit=st.booleans())
@example(data={**SEMINAR, "precision": ""}, edit=False)
@example(data={**SEMINAR, "capacity": HUGE}, edit=False)
@example(data={**SEMINAR, "registration_opens_at": "0001-01-01T00:00"}, edit=True)
@example(data={**SEMINAR, "title": "テーマ\x00"}, edit=True)
def test_seminar_form_survives_hostile_input(app, secretariat, seminar_id, data, edit):
    with app.app_context():
        series_id = db.session.get(Seminar, seminar_id).series_id
    path = f"/secretariat/seminars/{seminar_id}/edit" if edit else "/secretariat/seminars/new"
    post_and_check(app, secretariat, path, fill(data, series=series_id), accepted={302}, rejected={422})


PROGRAM_ITEM = {"start_time": "15:30", "title": "イントロダクション"}


@fuzz_settings(60)
@given(data=form(
    start_time=st.sampled_from(["15:30", "", "9:5"]),
    title=text_of("イントロダクション", "前橋市の取組紹介"),
    points=text_of("本日のプログラム紹介\n意見交換"),
    notes=text_of("※ 資料は後日公開", ""),
    presenters=text_of("総務省 / サイバーセキュリティ統括官室", "前橋市\n浜松市 / 未来創造部 / 山田 太郎", "",
                       "組" * 201, "総務省 / " + "部" * 201, "前橋市 / 部 / " + "氏" * 201),
), edit=st.booleans())
@example(data={**PROGRAM_ITEM, "presenters": "組" * 201}, edit=False)
@example(data={**PROGRAM_ITEM, "points": "a\x00b"}, edit=True)
def test_program_item_form_survives_hostile_input(app, secretariat, seminar_id, data, edit):
    if edit:
        item_id = ids_of(app, ProgramItem, ProgramItem.seminar_id == seminar_id)[0]
        path = f"/secretariat/program/{item_id}/edit"
    else:
        path = f"/secretariat/seminars/{seminar_id}/program"
    post_and_check(app, secretariat, path, data, accepted={302}, rejected={422})


# ----------------------------------------------------------------------------- Q&A


@fuzz_settings(60)
@given(data=form(
    body=text_of("都市OSの導入費用はどの程度でしょうか。", "質問です"),
    anonymous=st.sampled_from(["y", "", "on"]),
    program_item=st.one_of(st.sampled_from(["0", "{item0}", "{item1}"]), st.integers().map(str)),
))
@example(data={"body": "質問です", "program_item": str(2**31)})
@example(data={"body": "質問です", "program_item": str(2**64)})
@example(data={"body": "質問\x00です", "program_item": "0"})
def test_question_form_survives_hostile_input(app, attendee, seminar_id, data):
    items = ids_of(app, ProgramItem, ProgramItem.seminar_id == seminar_id)
    post_and_check(app, attendee, f"/seminars/{seminar_id}/questions", fill(data, item0=items[0], item1=items[1]),
                   accepted={302}, rejected={422})


# ----------------------------------------------------------------------------- subcommittees

PROPOSAL = {"name": "ネット・ゼロ スマートシティ検討分科会", "fiscal_year": "2021", "purpose": "目的", "issues": "課題",
            "outcomes": "成果", "fields": ["エネルギー"]}


@fuzz_settings(60)
@given(data=form(
    name=text_of("ネット・ゼロ スマートシティ検討分科会", "地域データ連携分科会"),
    fiscal_year=st.one_of(st.integers(1990, 2110).map(str), st.just(HUGE)),
    purpose=text_of("脱炭素と都市OSの両立を検討する。"),
    main_theme=text_of("ネット・ゼロ", ""),
    issues=text_of("課題1\n課題2"),
    activities=text_of("活動1 / デスクリサーチ / 2021-09 / 2021-12\n活動2 / オンライン会合", "調査のみ", "",
                       "活動1 / 調査 / 2021-13", "活動1 / 調査 / 0000-01 / 2021-12", "活動1 / 調査 / 2021-09 / 9999-12",
                       "ラ" * 60 + " / 長いラベル", "活動1 / " + "長" * 301),
    outcomes=text_of("報告書"),
    fields=st.lists(st.sampled_from([*TARGET_FIELDS, "宇宙"]), min_size=1, max_size=4, unique=True),
    fields_other=text_of("宇宙", ""),
    contacts=text_of("山田 太郎 / PwCコンサルティング合同会社 / 公共事業部 / yamada@example.org", "佐藤 花子", "",
                     "名" * 201, "山田 / " + "組" * 201, "山田 / 組織 / " + "部" * 201,
                     "山田 / 組織 / 部署 / " + "a" * 250 + "@example.org"),
))
@example(data={**PROPOSAL, "fiscal_year": HUGE})
@example(data={**PROPOSAL, "activities": "活動1 / 調査 / 2021-13"})
@example(data={**PROPOSAL, "activities": "活動1 / 調査 / 2021-09 / 9999-12"})
@example(data={**PROPOSAL, "activities": "ラ" * 60 + " / 長いラベル"})
@example(data={**PROPOSAL, "contacts": "名" * 201})
@example(data={**PROPOSAL, "purpose": "目的\x00"})
def test_proposal_form_survives_hostile_input(app, attendee, data):
    post_and_check(app, attendee, "/subcommittees/propose", data, accepted={302}, rejected={422})


@st.composite
def session_forms(draw) -> dict[str, Any]:
    precision = draw(st.sampled_from(["day", "early", "mid", "late", "month", "undecided"]))
    return draw(form(
        number=st.one_of(st.integers(-3, 120).map(str), st.just(HUGE)),
        title=text_of("ネット・ゼロ×スマートシティへの理解", "第5回"),
        precision=st.just(precision),
        date=st.sampled_from(["2021-10-05" if precision == "day" else "2021-10", "2021-10-05", "2022-04", ""]),
        start=st.sampled_from(["15:00", "", "7:00"]),
        end=st.sampled_from(["17:00", "14:00", ""]),
        join_url=st.sampled_from(["https://example.org/meet/1", "", "ftp://example.org"]),
        status=st.sampled_from(["scheduled", "cancelled"]),
    ))


SESSION = {"number": "9", "title": "第9回", "precision": "month", "date": "2021-10", "status": "scheduled"}


@fuzz_settings(60)
@given(data=session_forms(), number=st.integers(1, 4), edit=st.booleans())
@example(data={**SESSION, "precision": ""}, number=1, edit=False)
@example(data={**SESSION, "number": HUGE}, number=1, edit=True)
@example(data={**SESSION, "title": "第9回\x00"}, number=2, edit=True)
def test_session_forms_survive_hostile_input(app, lead, data, number, edit):
    data = {**data, "confirmed": "1"}  # past the confirmation asked before mailing the members
    if not edit:  # the add form redirects either way; an error flash means refused
        post_and_check(app, lead, "/subcommittees/fuzz-sub/sessions", data, accepted={302}, rejected=set(),
                       flash_decides=True)
        return
    sub_id = ids_of(app, Subcommittee, Subcommittee.slug == "fuzz-sub")[0]
    session_id = ids_of(app, SubcommitteeSession, SubcommitteeSession.subcommittee_id == sub_id)[number - 1]
    post_and_check(app, lead, f"/subcommittees/fuzz-sub/sessions/{session_id}", data, accepted={302},
                   rejected={422})


@fuzz_settings(50)
@given(data=form(
    title=text_of("報告書作成", "中間報告"),
    due=st.sampled_from(["2021-12-31", "2022-03-31", ""]),
    quarter=st.sampled_from(["0", "1", "2", "3", "4"]),
), done=form(done_on=st.sampled_from(["2021-10-01", "", "2021-02-29"])), mark_done=st.booleans())
@example(data={"title": "中間報告\x00", "due": "2021-12-31", "quarter": "0"}, done={}, mark_done=False)
def test_milestone_forms_survive_hostile_input(app, lead, data, done, mark_done):
    if not mark_done:
        post_and_check(app, lead, "/subcommittees/fuzz-sub/milestones", data, accepted={302}, rejected=set(),
                       flash_decides=True)
        return
    with app.app_context():
        milestone_id = db.session.scalar(select(Subcommittee).where(Subcommittee.slug == "fuzz-sub")).milestones[0].id
    post_and_check(app, lead, f"/subcommittees/fuzz-sub/milestones/{milestone_id}/done", done, accepted={302},
                   rejected=set(), flash_decides=True)


# ----------------------------------------------------------------------------- wrong types: a file for a text

TEXT_FIELDS = [
    ("visitor", "/signup", "name"), ("visitor", "/signup", "email"), ("visitor", "/login", "email"),
    ("visitor", "/password-reset", "email"), ("secretariat", "/secretariat/seminars/new", "title"),
    ("secretariat", "/secretariat/seminars/{seminar_id}/program", "title"),
    ("attendee", "/seminars/{seminar_id}/questions", "body"), ("attendee", "/subcommittees/propose", "name"),
    ("lead", "/subcommittees/fuzz-sub/sessions", "title"), ("lead", "/subcommittees/fuzz-sub/milestones", "title"),
]


@pytest.mark.parametrize(("who", "path", "name"), TEXT_FIELDS)
def test_a_file_where_text_is_expected(request, app, seminar_id, who, path, name):
    """A multipart upload in a text field is a client's mistake (4xx or the form's error), never a 500."""
    browser = request.getfixturevalue(who)
    path = path.format(seminar_id=seminar_id)
    before = snapshot(app)
    response = browser.client.post(path, data={name: (io.BytesIO(b"<script>alert(1)</script>"), "x.txt"),
                                               "csrf_token": browser.token}, content_type="multipart/form-data")
    assert response.status_code < 500
    assert response.status_code in (200, 302, 400, 413, 422)
    if response.status_code != 302 or any(c == "error" for c, _ in browser.flashes()):
        assert not diff(before, snapshot(app))


# ----------------------------------------------------------------------------- query strings

QUERY_PAGES = [
    ("visitor", "/seminars", "fy"), ("visitor", "/seminars/{seminar_id}", "x"), ("visitor", "/login", "next"),
    ("visitor", "/language/ja", "next"), ("attendee", "/seminars/{seminar_id}/questions", "sort"),
    ("attendee", "/seminars/{seminar_id}/questions", "fragment"), ("secretariat", "/secretariat/seminars", "fy"),
    ("secretariat", "/secretariat/audit", "q"), ("secretariat", "/secretariat/audit", "action"),
    ("secretariat", "/secretariat/audit.csv", "q"), ("secretariat", "/secretariat/inventory", "filter"),
    ("secretariat", "/secretariat/accounts", "state"), ("secretariat", "/secretariat/outbox", "status"),
    ("secretariat", "/secretariat/seminars/new", "series"),
]


@fuzz_settings(60)
@given(page=st.sampled_from(QUERY_PAGES), value=hostile_text)
@example(page=("visitor", "/seminars", "fy"), value=str(2**64))
@example(page=("secretariat", "/secretariat/audit", "q"), value="a\x00b")
def test_query_strings_survive_hostile_input(request, app, seminar_id, page, value):
    """Filters and switches in the query string (the audit search form, the year links): never a 500,
    never a change, never an open redirect."""
    who, path, name = page
    browser = request.getfixturevalue(who)
    before = snapshot(app)
    response = browser.client.get(path.format(seminar_id=seminar_id), query_string={name: value})
    assert response.status_code < 500
    assert response.status_code in (200, 302, 400, 404)
    if response.status_code == 302:
        location = response.headers["Location"]
        assert location.startswith("/") and not location.startswith(("//", "/\\")), location
    if response.mimetype == "text/html":
        assert_not_echoed({name: value}, response.get_data(as_text=True))
    assert not diff(before, snapshot(app))


# ----------------------------------------------------------------------------- the importer

json_leaf = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True), hostile_text,
    st.sampled_from(["2021-08-03", "2021-10", "2021-13", "0000-01", "0001-01-01", "9999-12-31", "15:30", "25:00",
                     "early", "mid", "late", "open", "closed", "draft", "published", "cancelled", "active",
                     "municipality", "member", "observer", "https://example.org/x", "a@example.org"]),
)
json_values = st.recursive(
    json_leaf,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=12,
)
wrong_shapes = st.one_of(json_leaf, st.lists(json_leaf, max_size=2), st.dictionaries(st.text(max_size=3), json_leaf,
                                                                                      max_size=2))


def valid_or_random(valid: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(valid, valid, wrong_shapes, json_values)


def record(keys: set[str], specific: dict[str, st.SearchStrategy[Any]]) -> st.SearchStrategy[Any]:
    """A record with any subset of its allowed keys, sometimes an unknown one, sometimes not an object."""
    optional = {k: valid_or_random(specific.get(k, json_leaf)) for k in sorted(keys)}
    rec = st.fixed_dictionaries({}, optional=optional)
    with_unknown = st.builds(lambda r, k, v: {**r, k: v}, rec, st.text(min_size=1, max_size=8), json_leaf)
    return st.one_of(rec, rec, rec, with_unknown, json_leaf)


def records(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.lists(strategy, max_size=3), st.lists(strategy, max_size=3), json_leaf)


days = st.sampled_from(["2021-08-03", "2021-10", "2022-03-31", "2021-02-29", "0001-01-01", "9999-12-31", "0000-01",
                        "9999-12"])
times = st.sampled_from(["15:30", "17:00", "0:00", "23:59", "24:00"])
keys = st.sampled_from(["fy2021-1", "fz-1", "fz-2", "a\n", "-bad", "x" * 101])
titles = text_of("イントロダクション", "分科会立上げ", "報告書作成", "組" * 201)

presenter_records = record(PRESENTER_KEYS, {"organization": titles, "point": st.integers(-1, 2**40)})
program_records = record(PROGRAM_KEYS, {"start": times, "title": titles, "points": st.lists(titles, max_size=2),
                                        "notes": st.lists(titles, max_size=2),
                                        "presenters": records(presenter_records)})
seminar_records = record(SEMINAR_KEYS, {
    "key": keys, "fiscal_year": st.integers(1999, 2**31), "number": st.integers(-1, 2**31), "date": days,
    "period": st.sampled_from(["early", "mid", "late", None, "sometime"]), "start": times, "end": times,
    "status": st.sampled_from(["draft", "published", "cancelled", "secret"]), "capacity": st.integers(-1, 2**40),
    "registration": st.sampled_from(["open", "closed"]), "qa": st.sampled_from(["open", "closed"]),
    "join_url": st.sampled_from(["https://example.org/w", "ftp://x", "https://"]),
    "mailbox": st.sampled_from(["box@example.org", "box"]), "program": records(program_records), "title": titles,
})
session_records = record(SESSION_KEYS, {"number": st.integers(-1, 2**31), "title": titles, "date": days,
                                        "period": st.sampled_from(["early", None]), "start": times, "end": times,
                                        "status": st.sampled_from(["scheduled", "cancelled"])})
milestone_records = record(MILESTONE_KEYS, {"title": titles, "due": days, "done": days})
activity_records = record(ACTIVITY_KEYS, {"title": titles, "start": days, "end": days})
contact_records = record(CONTACT_KEYS, {"name": titles, "email": st.sampled_from(["a@example.org", "nope"])})
subcommittee_records = record(SUBCOMMITTEE_KEYS, {
    "slug": st.sampled_from(["net-zero", "fz-sub", "Bad_Slug", "a-"]), "name": titles,
    "fiscal_year": st.integers(1999, 2**31), "status": st.sampled_from(["active", "proposed", "closed"]),
    "fields": st.lists(st.sampled_from([*TARGET_FIELDS, "宇宙"]), max_size=3),
    "issues": st.lists(titles, max_size=2), "outcomes": st.lists(titles, max_size=2),
    "activities": records(activity_records), "sessions": records(session_records),
    "milestones": records(milestone_records), "contacts": records(contact_records),
})
org_records = record(ORG_KEYS, {"name": text_of("前橋市", "浜松市"), "kind": st.sampled_from(["municipality", "x"]),
                                "membership": st.sampled_from(["member", "observer", "x"])})
series_records = record(SERIES_KEYS, {"name": titles, "fiscal_year": st.integers(1999, 2**31)})
import_files = st.one_of(
    json_values,
    record({"series", "organizations", "seminars", "subcommittees"}, {
        "series": records(series_records), "organizations": records(org_records),
        "seminars": records(seminar_records), "subcommittees": records(subcommittee_records),
    }),
)
SUB = {"slug": "fz-sub", "name": "分科会", "fiscal_year": 2021}


@fuzz_settings(300)
@given(data=import_files)
@example(data={"organizations": [{"name": "前橋市", "kind": ["municipality"]}]})
@example(data={"seminars": [{"key": "fz-1", "fiscal_year": 2021, "status": {"draft": 1}}]})
@example(data={"subcommittees": [{**SUB, "milestones": [{"title": ["分科会立上げ"], "due": "2021-09-30"}]}]})
@example(data={"seminars": [{"key": "fz-1", "fiscal_year": 2021, "date": "0000-01"}]})
@example(data={"seminars": [{"key": "fz-1", "date": "0001-01-01", "start": "00:00"}]})
@example(data={"seminars": [{"key": "fz-1", "date": "9999-12-31", "status": "published"}]})
@example(data={"subcommittees": [{**SUB, "sessions": [{"number": 1, "title": "①", "date": "9999-12-31"}]}]})
@example(data={"seminars": [{"key": "fz-1", "fiscal_year": 2021, "title": "NUL\x00"}]})
def test_import_data_accepts_or_raises_import_failed(app, data):
    before = snapshot(app)
    with app.app_context():
        try:
            import_data(data)
        except ImportFailed as exc:
            assert exc.errors and all(isinstance(e, str) and e for e in exc.errors)
            session = db.session()
            assert not (session.new or session.dirty or session.deleted), "ImportFailed left changes in the session"
            db.session.rollback()
            failed = True
        else:
            db.session.commit()
            failed = False
    if failed:
        assert not diff(before, snapshot(app))
        return
    # What the importer accepted, the portal can show.
    client = app.test_client()
    for path in ("/", "/calendar.ics", "/api/v1/seminars", "/seminars", "/subcommittees"):
        assert client.get(path).status_code == 200, path
    with app.app_context():
        slugs = list(db.session.scalars(select(Subcommittee.slug)))
    for slug in slugs:
        for path in (f"/subcommittees/{slug}", f"/subcommittees/{slug}/calendar.ics"):
            assert client.get(path).status_code in (200, 404), path


NESTED = b"[" * 5_000 + b"]" * 5_000
HOSTILE_FILES = [
    b"", b"\x00", b"\xff\xfe{\x00}\x00", b"\xef\xbb\xbf{}", b"{}", b"[]", b"null", b"NaN", b"1e999", b'"text"',
    b'{"seminars": [{"key": "x"', b"{" * 5 + b"}" * 5, NESTED,
    '{"organizations": [{"name": "前橋市"}]}'.encode("shift_jis"),
    '{"organizations": [{"name": "前橋市"}]}'.encode("utf-16"),
    b'{"seminars": [{"key": "fz-cli", "fiscal_year": 2021, "status": "draft"}]}',
]
import_bytes = st.one_of(
    st.binary(max_size=300), st.sampled_from(HOSTILE_FILES),
    import_files.map(lambda d: json.dumps(d, ensure_ascii=False, allow_nan=True).encode("utf-8")),
)


@fuzz_settings(80)
@given(content=import_bytes)
@example(content=NESTED)
def test_import_command_survives_random_bytes(app, runner, content):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "import.json")
        path.write_bytes(content)
        before = snapshot(app)
        result = runner.invoke(args=["portal", "import", str(path)])
    assert result.exit_code in (0, 1), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{type(result.exception).__name__}: {result.exception}")
    if result.exit_code == 1:
        assert re.search(r"Error: ", result.output), result.output
        assert not diff(before, snapshot(app))
