"""`portal import`, `portal demo` and `portal create-user`, driven through the real CLI.

Every import file is written to ``tmp_path`` and given to ``flask portal import`` as an operator
would; the database is then read back with its own session. A rejected file must leave every
table exactly as it was.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from portal.accounts.models import AccountState, Membership, Organization, OrganizationKind, Role, User
from portal.core.dates import TOKYO, Precision, to_local, today_local
from portal.core.db import db
from portal.imports.checks import ImportFailed
from portal.imports.demo import DEMO_FILE
from portal.imports.operations import import_data
from portal.seminars.models import Seminar, SeminarStatus
from portal.subcommittees.models import MembershipState, Subcommittee, SubcommitteeStatus

SERIES = "官民連携プラットフォーム オンラインセミナー"


# ----------------------------------------------------------------------------- helpers


def good_file() -> dict[str, Any]:
    """A file shaped like the contract's example, a little fuller."""
    return {
        "organizations": [
            {"name": "前橋市", "kind": "municipality", "membership": "member"},
            {"name": "総務省", "kind": "ministry", "membership": "observer"},
            {"name": "PwCコンサルティング合同会社", "kind": "company", "membership": "member"},
        ],
        "seminars": [
            {
                "key": "fy2021-1", "series": SERIES, "fiscal_year": 2021, "number": 1,
                "title": "前橋市・浜松市・岡崎市による取組紹介・意見交換",
                "date": "2021-08-03", "start": "15:30", "end": "17:00",
                "status": "published", "capacity": 500, "registration": "open", "qa": "closed",
                "join_url": "https://example.org/webinar/123",
                "program": [
                    {"start": "15:30", "title": "イントロダクション", "points": ["本日のプログラム紹介"],
                     "presenters": [{"organization": "総務省", "department": "サイバーセキュリティ統括官室"}]},
                    {"start": "15:45", "title": "実践都市による発表", "points": ["自治体ご担当者様からご説明"],
                     "presenters": [{"organization": "前橋市"}, {"organization": "浜松市"},
                                    {"organization": "岡崎市"}]},
                ],
            },
            {
                "key": "fy2021-2", "fiscal_year": 2021, "number": 2, "date": "2021-10", "period": "early",
                "title": "中山間地での取組や都市OSを導入した地域の取組紹介・意見交換", "status": "published",
            },
        ],
        "subcommittees": [
            {
                "slug": "net-zero", "name": "ネット・ゼロ スマートシティ検討分科会", "fiscal_year": 2021,
                "proposer": "PwCコンサルティング合同会社", "purpose": "地域のネット・ゼロの実現を加速させる",
                "issues": ["産学官それぞれの役割分担"], "outcomes": ["ロードマップ"],
                "fields": ["エネルギー", "交通・モビリティ"],
                "sessions": [
                    {"number": 1, "title": "ネット・ゼロ×スマートシティへの理解", "date": "2021-09", "period": None},
                    {"number": 2, "title": "現在/将来のアクション", "date": "2021-11", "period": None},
                ],
                "milestones": [{"title": "分科会立上げ", "due": "2021-09-30"},
                               {"title": "報告書作成", "due": "2022-03-31"}],
            }
        ],
    }


def changed_file() -> dict[str, Any]:
    """The good file with edits a bad file must not sneak in: new records and changed titles."""
    data = good_file()
    data["organizations"].append({"name": "浜松市", "kind": "municipality", "membership": "member"})
    data["seminars"][0]["title"] = "変更後のタイトル"
    data["seminars"].append({"key": "fy2021-3", "fiscal_year": 2021, "number": 3, "date": "2021-12",
                             "period": "early", "status": "published"})
    data["subcommittees"][0]["sessions"][0]["title"] = "変更後のセッション"
    return data


def write(tmp_path: Path, data: Any, name: str = "import.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def import_file(runner, path: Path):
    return runner.invoke(args=["portal", "import", str(path)])


def import_ok(runner, tmp_path: Path, data: Any, name: str = "import.json"):
    result = import_file(runner, write(tmp_path, data, name))
    assert result.exit_code == 0, result.output
    return result


def snapshot(app) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order."""
    with app.app_context():
        return {
            table.name: [tuple(row) for row in db.session.execute(
                select(table).order_by(*table.primary_key.columns))]
            for table in db.metadata.sorted_tables
        }


def counts(snap: dict[str, list[tuple]]) -> dict[str, int]:
    return {name: len(rows) for name, rows in snap.items()}


def assert_rejected(result, *fragments: str) -> None:
    """A clean refusal (an error message, not a crash) that names what is wrong."""
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), f"crashed instead of reporting: {result.exception!r}"
    for fragment in fragments:
        assert fragment in result.output, f"{fragment!r} not in:\n{result.output}"


def seminar(key: str) -> Seminar:
    found = db.session.scalar(select(Seminar).where(Seminar.key == key))
    assert found is not None, key
    return found


def subcommittee(slug: str) -> Subcommittee:
    found = db.session.scalar(select(Subcommittee).where(Subcommittee.slug == slug))
    assert found is not None, slug
    return found


def local(value: datetime | None) -> datetime | None:
    return None if value is None else to_local(value).replace(tzinfo=None)


# ----------------------------------------------------------------------------- a good file


def test_good_file_imports_everything(app, runner, tmp_path, client):
    result = import_ok(runner, tmp_path, good_file())
    assert "created" in result.output

    with app.app_context():
        orgs = {o.name: o for o in db.session.scalars(select(Organization))}
        assert set(orgs) == {"前橋市", "総務省", "PwCコンサルティング合同会社"}
        assert orgs["前橋市"].kind is OrganizationKind.MUNICIPALITY
        assert orgs["総務省"].membership is Membership.OBSERVER

        first = seminar("fy2021-1")
        assert first.series.name == SERIES and first.fiscal_year == 2021 and first.number == 1
        assert first.title == "前橋市・浜松市・岡崎市による取組紹介・意見交換"
        assert first.status is SeminarStatus.PUBLISHED
        assert first.precision is Precision.DAY and first.date_on == date(2021, 8, 3)
        assert to_local(first.starts_at) == datetime(2021, 8, 3, 15, 30, tzinfo=TOKYO)
        assert to_local(first.ends_at) == datetime(2021, 8, 3, 17, 0, tzinfo=TOKYO)
        assert first.capacity == 500 and first.registration_open and not first.qa_open
        assert first.join_url == "https://example.org/webinar/123"
        assert [(i.start_time, i.title, i.points) for i in first.program] == [
            (time(15, 30), "イントロダクション", ["本日のプログラム紹介"]),
            (time(15, 45), "実践都市による発表", ["自治体ご担当者様からご説明"]),
        ]
        assert [p.display for p in first.program[0].presenters] == ["総務省 サイバーセキュリティ統括官室 様"]
        assert [p.organization for p in first.program[1].presenters] == ["前橋市", "浜松市", "岡崎市"]

        second = seminar("fy2021-2")
        assert second.precision is Precision.EARLY and second.date_on == date(2021, 10, 1)
        assert second.starts_at is None and second.program == []
        assert second.series_id == first.series_id  # the default series of the same fiscal year

        sub = subcommittee("net-zero")
        assert sub.name == "ネット・ゼロ スマートシティ検討分科会" and sub.fiscal_year == 2021
        assert sub.status is SubcommitteeStatus.ACTIVE
        assert sub.proposer_organization is not None
        assert sub.proposer_organization.name == "PwCコンサルティング合同会社"
        assert sub.fields == ["エネルギー", "交通・モビリティ"]
        assert [(s.number, s.circled_number, s.title, s.date_on, s.precision) for s in sub.sessions] == [
            (1, "①", "ネット・ゼロ×スマートシティへの理解", date(2021, 9, 1), Precision.MONTH),
            (2, "②", "現在/将来のアクション", date(2021, 11, 1), Precision.MONTH),
        ]
        assert [(m.title, m.due_on) for m in sub.milestones] == [
            ("分科会立上げ", date(2021, 9, 30)), ("報告書作成", date(2022, 3, 31)),
        ]

    # What a visitor sees of it.
    api = {s["key"]: s for s in client.get("/api/v1/seminars").get_json()["seminars"]}
    assert api["fy2021-1"]["start"] == "2021-08-03T15:30:00+09:00"
    assert api["fy2021-2"]["start"] is None and api["fy2021-2"]["date_label"] == "10月上旬"


def test_undecided_and_month_dates_import(app, runner, tmp_path):
    data = {"seminars": [
        {"key": "tbd", "fiscal_year": 2022, "number": 1, "status": "published"},
        {"key": "month", "fiscal_year": 2022, "number": 2, "date": "2023-01", "period": None},
        {"key": "allday", "fiscal_year": 2022, "number": 3, "date": "2022-06-07"},
    ]}
    import_ok(runner, tmp_path, data)
    with app.app_context():
        tbd, month, allday = seminar("tbd"), seminar("month"), seminar("allday")
        assert (tbd.date_on, tbd.precision, tbd.fiscal_year) == (None, Precision.UNDECIDED, 2022)
        assert (month.date_on, month.precision, month.fiscal_year) == (date(2023, 1, 1), Precision.MONTH, 2022)
        assert month.label() == "1月"
        assert (allday.date_on, allday.precision, allday.starts_at) == (date(2022, 6, 7), Precision.DAY, None)
        assert allday.status is SeminarStatus.DRAFT  # no status given: not public


# ----------------------------------------------------------------------------- bad files


def _set(path: str, value: Any) -> Callable[[dict], None]:
    """A mutation that sets data[a][b]…[z] = value; path like 'seminars.0.date'."""

    def mutate(data: dict) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target = data
        for part in parents:
            target = target[part]
        target[last] = value

    return mutate


def _many(*mutations: Callable[[dict], None]) -> Callable[[dict], None]:
    def mutate(data: dict) -> None:
        for m in mutations:
            m(data)

    return mutate


def _append(path: str, make: Callable[[dict], Any]) -> Callable[[dict], None]:
    def mutate(data: dict) -> None:
        target = data
        for part in path.split("."):
            target = target[int(part) if part.isdigit() else part]
        target.append(make(data))

    return mutate


S0 = "seminars[0] (key=fy2021-1)"
S1 = "seminars[1] (key=fy2021-2)"
S2 = "seminars[2] (key=fy2021-3)"
NZ = "subcommittees[0] (slug=net-zero)"


def _case(mutate: Callable[[dict], None], fragments: list[str], *, name: str) -> tuple:
    return name, mutate, fragments


BAD_FILES = [
    _case(_set("seminars.0.colour", "red"), [S0, "colour"], name="unknown-key-seminar"),
    _case(_set("seminars.0.program.1.speaker", "x"), [f"{S0}.program[1]", "speaker"], name="unknown-key-program"),
    _case(_set("seminars.0.program.1.presenters.2.role", "x"),
          [f"{S0}.program[1].presenters[2]", "role"], name="unknown-key-presenter"),
    _case(_set("subcommittees.0.sessions.1.place", "x"), [f"{NZ}.sessions[1]", "place"], name="unknown-key-session"),
    _case(_set("organizations.1.homepage", "x"), ["organizations[1] (name=総務省)", "homepage"],
          name="unknown-key-organization"),
    _case(_set("speakers", []), ["speakers"], name="unknown-key-top-level"),
    _case(_set("seminars.0.date", "2021-13-01"), [f"{S0}.date", "2021-13-01"], name="bad-day"),
    _case(_set("seminars.0.date", "2021-02-30"), [f"{S0}.date", "2021-02-30"], name="no-such-day"),
    _case(_set("seminars.1.date", "2021-13"), [f"{S1}.date", "2021-13"], name="bad-month"),
    _case(_set("seminars.1.date", "10月上旬"), [f"{S1}.date"], name="date-in-words"),
    _case(_set("seminars.1.period", "beginning"), [f"{S1}.period", "beginning"], name="bad-period"),
    _case(_set("seminars.0.period", "early"), [f"{S0}.period"], name="period-with-day"),
    _case(_set("subcommittees.0.sessions.0.period", "first"), [f"{NZ}.sessions[0].period", "first"],
          name="bad-session-period"),
    _case(_many(_set("seminars.0.start", "17:00"), _set("seminars.0.end", "15:30")), [f"{S0}.end"],
          name="end-before-start"),
    _case(_set("seminars.0.start", "25:00"), [f"{S0}.start", "25:00"], name="bad-time"),
    _case(_set("seminars.0.program.0.start", "15:75"), [f"{S0}.program[0].start", "15:75"],
          name="bad-program-time"),
    _case(_set("seminars.1.start", "15:30"), [f"{S1}.start"], name="time-with-month"),
    _case(_set("subcommittees.0.sessions.1.start", "10:00"), [f"{NZ}.sessions[1].start"],
          name="session-time-with-month"),
    _case(_set("seminars.0.status", "postponed"), [f"{S0}.status", "postponed"], name="unknown-status"),
    _case(_set("seminars.0.registration", "maybe"), [f"{S0}.registration", "maybe"],
          name="unknown-registration"),
    _case(_set("subcommittees.0.sessions.0.status", "later"), [f"{NZ}.sessions[0].status", "later"],
          name="unknown-session-status"),
    _case(_set("seminars.0.fiscal_year", 2022), [f"{S0}.fiscal_year", "2022"], name="fiscal-year-mismatch"),
    _case(_many(_set("seminars.1.date", "2022-02"), _set("seminars.1.fiscal_year", 2022)),
          [f"{S1}.fiscal_year"], name="fiscal-year-january-is-previous-year"),
    _case(_set("seminars.2", {"key": "fy2021-3", "number": 3, "fiscal_year": None}), [f"{S2}.fiscal_year"],
          name="undecided-without-fiscal-year"),
    _case(_set("subcommittees.0.fields", ["エネルギー", "宇宙開発"]), [f"{NZ}.fields", "宇宙開発"],
          name="bad-target-field"),
    _case(_append("seminars", lambda d: copy.deepcopy(d["seminars"][1])), ["seminars[3] (key=fy2021-2).key"],
          name="duplicate-seminar-key"),
    _case(_append("subcommittees", lambda d: {"slug": "net-zero", "name": "二つ目", "fiscal_year": 2021}),
          ["subcommittees[1] (slug=net-zero).slug"], name="duplicate-slug"),
    _case(_append("subcommittees.0.sessions", lambda d: {"number": 1, "title": "重複"}),
          [f"{NZ}.sessions[2].number"], name="duplicate-session-number"),
    _case(_append("organizations", lambda d: {"name": "前橋市"}), ["organizations[4] (name=前橋市).name"],
          name="duplicate-organization"),
    _case(_append("subcommittees.0.milestones", lambda d: {"title": "報告書作成", "due": "2022-02-28"}),
          [f"{NZ}.milestones[2].title"], name="duplicate-milestone-title"),  # milestones are matched by title
    _case(_set("subcommittees.0.sessions", 4), [f"{NZ}.sessions"], name="sessions-not-a-list"),
    _case(_set("seminars.0.capacity", 10**10), [f"{S0}.capacity"], name="capacity-out-of-range"),
    _case(_set("seminars.2.key", 2021), ["seminars[2].key"], name="key-not-text"),
    _case(_set("subcommittees.0.slug", "Net Zero"), [f"{NZ.replace('net-zero', 'Net Zero')}.slug"],
          name="bad-slug"),
    _case(_set("seminars.0.capacity", -5), [f"{S0}.capacity", "-5"], name="negative-capacity"),
    _case(_set("seminars.0.join_url", "javascript:alert(1)"), [f"{S0}.join_url"], name="bad-join-url"),
    _case(_set("subcommittees.0.milestones.1.due", "2022-02-30"), [f"{NZ}.milestones[1].due", "2022-02-30"],
          name="last-record-bad"),
]


def _reset(app, runner, tmp_path) -> None:
    """Back to just the good file."""
    with app.app_context():
        for table in reversed(db.metadata.sorted_tables):
            db.session.execute(table.delete())
        db.session.commit()
    import_ok(runner, tmp_path, good_file(), "first.json")


def test_bad_files_change_nothing(app, runner, tmp_path, subtests):
    """Each kind of mistake, on top of edits that would otherwise be applied, is refused whole.

    One database for all cases (each compares the whole database before and after), so the file
    stays fast on PostgreSQL; every case is reported on its own.
    """
    import_ok(runner, tmp_path, good_file(), "first.json")
    for case_id, mutate, fragments in BAD_FILES:
        with subtests.test(case=case_id):
            before = snapshot(app)
            with app.app_context():
                title = seminar("fy2021-1").title
                session_title = subcommittee("net-zero").sessions[0].title

            data = changed_file()
            mutate(data)
            result = import_file(runner, write(tmp_path, data, f"bad-{case_id}.json"))
            after = snapshot(app)
            if after != before:  # a wrongly accepted file must not spoil the cases after it
                _reset(app, runner, tmp_path)

            assert_rejected(result, f"bad-{case_id}.json", *fragments)
            assert counts(after) == counts(before)
            assert after == before
            with app.app_context():
                assert seminar("fy2021-1").title == title != "変更後のタイトル"
                assert subcommittee("net-zero").sessions[0].title == session_title != "変更後のセッション"
                assert db.session.scalar(select(Organization).where(Organization.name == "浜松市")) is None


def test_every_problem_is_reported_at_once(app, runner, tmp_path):
    data = good_file()
    data["seminars"][0]["status"] = "postponed"
    data["seminars"][1]["period"] = "beginning"
    data["subcommittees"][0]["fields"] = ["宇宙開発"]
    result = import_file(runner, write(tmp_path, data))
    assert_rejected(result, f"{S0}.status", f"{S1}.period", f"{NZ}.fields")
    assert counts(snapshot(app))["seminars"] == 0


def test_valid_records_before_a_bad_one_are_not_written(app, runner, tmp_path):
    before = snapshot(app)
    data = good_file()
    data["seminars"].append({"key": "fy2021-3", "fiscal_year": 2021, "number": 3, "date": "2021-12-07",
                             "start": "16:00", "end": "15:00"})
    result = import_file(runner, write(tmp_path, data))

    assert_rejected(result, "seminars[2] (key=fy2021-3).end")
    assert snapshot(app) == before
    with app.app_context():
        assert db.session.scalars(select(Seminar)).all() == []
        assert db.session.scalars(select(Organization)).all() == []
        assert db.session.scalars(select(Subcommittee)).all() == []


def test_invalid_json_changes_nothing(app, runner, tmp_path):
    import_ok(runner, tmp_path, good_file(), "first.json")
    before = snapshot(app)
    text = json.dumps(changed_file(), ensure_ascii=False, indent=1)
    text = text.replace('"fy2021-1",', '"fy2021-1",,', 1)  # a stray comma
    path = tmp_path / "broken.json"
    path.write_text(text, encoding="utf-8")

    result = import_file(runner, path)
    line = text[: text.index(",,")].count("\n") + 1
    assert_rejected(result, "broken.json", "JSON", f"line {line}")
    assert snapshot(app) == before


def test_not_utf8_changes_nothing(app, runner, tmp_path):
    import_ok(runner, tmp_path, good_file(), "first.json")
    before = snapshot(app)
    path = tmp_path / "sjis.json"
    path.write_bytes(json.dumps(changed_file(), ensure_ascii=False).encode("shift_jis"))

    result = import_file(runner, path)
    assert_rejected(result, "sjis.json", "UTF-8")
    assert snapshot(app) == before


def test_top_level_must_be_an_object(app, runner, tmp_path):
    result = import_file(runner, write(tmp_path, [good_file()]))
    assert_rejected(result, "top level")
    assert counts(snapshot(app))["organizations"] == 0


# ----------------------------------------------------------------------------- re-import


def _ids(app) -> dict[str, Any]:
    with app.app_context():
        sub = subcommittee("net-zero")
        return {
            "seminars": {s.key: s.id for s in db.session.scalars(select(Seminar))},
            "subcommittee": sub.id,
            "sessions": {s.number: s.id for s in sub.sessions},
            "milestones": {m.title: m.id for m in sub.milestones},
            "organizations": {o.name: o.id for o in db.session.scalars(select(Organization))},
        }


def test_reimport_of_changed_file_updates_in_place(app, runner, tmp_path):
    import_ok(runner, tmp_path, good_file(), "v1.json")
    ids = _ids(app)
    before = counts(snapshot(app))

    data = good_file()
    data["seminars"][0]["title"] = "前橋市・浜松市・岡崎市による取組紹介（改）"
    data["seminars"][0]["date"] = "2021-08-10"
    data["seminars"][0]["program"][1]["presenters"].reverse()
    data["seminars"][1]["period"] = "mid"
    data["subcommittees"][0]["name"] = "ネット・ゼロ スマートシティ分科会"
    sessions = data["subcommittees"][0]["sessions"]
    sessions[0]["title"] = "ネット・ゼロへの理解"
    sessions[1].update(date="2021-11-16", start="14:00", end="16:00")
    sessions.reverse()  # matched by number, not by position
    data["subcommittees"][0]["milestones"][1]["due"] = "2022-03-25"
    result = import_ok(runner, tmp_path, data, "v2.json")
    assert "updated" in result.output

    assert _ids(app) == ids
    assert counts(snapshot(app)) == before
    with app.app_context():
        first = seminar("fy2021-1")
        assert first.title == "前橋市・浜松市・岡崎市による取組紹介（改）"
        assert to_local(first.starts_at) == datetime(2021, 8, 10, 15, 30, tzinfo=TOKYO)
        assert first.date_on == date(2021, 8, 10)
        assert [p.organization for p in first.program[1].presenters] == ["岡崎市", "浜松市", "前橋市"]
        assert seminar("fy2021-2").precision is Precision.MID
        assert seminar("fy2021-2").label() == "10月中旬"
        sub = subcommittee("net-zero")
        assert sub.name == "ネット・ゼロ スマートシティ分科会"
        assert [(s.number, s.title) for s in sub.sessions] == [
            (1, "ネット・ゼロへの理解"), (2, "現在/将来のアクション")]
        assert sub.sessions[1].precision is Precision.DAY
        assert local(sub.sessions[1].starts_at) == datetime(2021, 11, 16, 14, 0)
        assert [m.due_on for m in sub.milestones] == [date(2021, 9, 30), date(2022, 3, 25)]


def test_reimport_adds_and_removes_children(app, runner, tmp_path):
    import_ok(runner, tmp_path, good_file(), "v1.json")
    ids = _ids(app)

    data = good_file()
    data["seminars"][0]["program"].pop()  # drop 実践都市による発表
    sub = data["subcommittees"][0]
    sub["sessions"] = [sub["sessions"][1],
                       {"number": 3, "title": "ネット・ゼロスマートシティの評価", "date": "2022-01"}]
    import_ok(runner, tmp_path, data, "v2.json")

    with app.app_context():
        assert [i.title for i in seminar("fy2021-1").program] == ["イントロダクション"]
        sessions = subcommittee("net-zero").sessions
        assert [s.number for s in sessions] == [2, 3]
        assert sessions[0].id == ids["sessions"][2]
        counted = counts(snapshot(app))
    assert counted["presenters"] == 1
    assert counted["subcommittee_sessions"] == 2


def test_same_file_twice_reports_unchanged_and_touches_nothing(app, runner, tmp_path):
    path = write(tmp_path, good_file())
    assert import_file(runner, path).exit_code == 0
    before = snapshot(app)
    with app.app_context():
        stamps = (seminar("fy2021-1").updated_at, seminar("fy2021-1").sequence,
                  subcommittee("net-zero").updated_at)

    result = import_file(runner, path)

    assert result.exit_code == 0, result.output
    assert "unchanged" in result.output
    assert "updated: none" in result.output
    assert "created: none" in result.output
    assert snapshot(app) == before  # every updated_at and sequence included
    with app.app_context():
        assert (seminar("fy2021-1").updated_at, seminar("fy2021-1").sequence,
                subcommittee("net-zero").updated_at) == stamps


def test_sequence_grows_with_date_time_and_status_only(app, runner, tmp_path):
    data = good_file()
    import_ok(runner, tmp_path, data, "v0.json")

    def state(key: str = "fy2021-1") -> tuple[int, datetime, str | None]:
        with app.app_context():
            s = seminar(key)
            return s.sequence, s.updated_at, s.title

    seq0, updated0, _ = state()

    data["seminars"][0]["title"] = "タイトルだけ変更"
    import_ok(runner, tmp_path, data, "v1.json")
    seq1, updated1, title1 = state()
    assert title1 == "タイトルだけ変更"
    assert seq1 == seq0
    assert updated1 > updated0

    data["seminars"][0]["start"] = "15:00"
    import_ok(runner, tmp_path, data, "v2.json")
    seq2, _, _ = state()
    assert seq2 > seq1

    data["seminars"][0]["date"] = "2021-08-04"
    import_ok(runner, tmp_path, data, "v3.json")
    seq3, _, _ = state()
    assert seq3 > seq2

    data["seminars"][0]["status"] = "cancelled"
    import_ok(runner, tmp_path, data, "v4.json")
    seq4, _, _ = state()
    assert seq4 > seq3

    other0, _, _ = state("fy2021-2")
    data["seminars"][1]["period"] = "late"
    import_ok(runner, tmp_path, data, "v5.json")
    other1, _, _ = state("fy2021-2")
    assert other1 > other0
    assert state()[0] == seq4  # the other seminar is untouched


def test_session_sequence_grows_with_date_not_title(app, runner, tmp_path):
    data = good_file()
    import_ok(runner, tmp_path, data, "v0.json")

    def session_seq(number: int) -> int:
        with app.app_context():
            return next(s.sequence for s in subcommittee("net-zero").sessions if s.number == number)

    seq0 = session_seq(1)
    data["subcommittees"][0]["sessions"][0]["title"] = "新しい題名"
    import_ok(runner, tmp_path, data, "v1.json")
    assert session_seq(1) == seq0

    data["subcommittees"][0]["sessions"][0].update(date="2021-09-21", start="10:00")
    import_ok(runner, tmp_path, data, "v2.json")
    assert session_seq(1) > seq0


# ----------------------------------------------------------------------------- one rule both ways
# The importer writes through the leads' and the back office's operations: the same change gives
# the same SEQUENCE, the same notices, and the same refusal whichever way it comes in.

PLAN_SESSION = {"number": 1, "title": "キックオフ", "date": "2021-09", "join_url": "https://example.org/meet/1"}
PLAN_MILESTONE = {"title": "分科会立上げ", "due": "2021-09-30"}


def plan_file(slug: str, session: dict[str, Any] | None = None, milestone: dict[str, Any] | None = None) -> dict:
    return {"subcommittees": [{"slug": slug, "name": f"分科会 {slug}", "fiscal_year": 2021,
                               "sessions": [session or PLAN_SESSION], "milestones": [milestone or PLAN_MILESTONE]}]}


def as_form(session: dict[str, Any]) -> dict[str, str]:
    """What the lead's session form posts for an import file's session."""
    exact = len(session["date"]) == 10
    return {"number": str(session["number"]), "title": session["title"],
            "precision": "day" if exact else session.get("period") or "month", "date": session["date"],
            "start": session.get("start", ""), "end": session.get("end", ""),
            "join_url": session.get("join_url", ""), "status": session.get("status", "scheduled"),
            "confirmed": "1"}  # past the confirmation a change that mails the members asks first


def plan_of(app, slug: str) -> dict[str, Any]:
    with app.app_context():
        sub = subcommittee(slug)
        return {"session": [(s.id, s.title, s.date_on, s.precision, s.sequence) for s in sub.sessions],
                "milestone": [(m.id, m.title, m.due_on, m.sequence) for m in sub.milestones]}


@pytest.fixture
def two_plans(app, runner, tmp_path, create_user):
    """Two subcommittees in the same state, each with a lead and a member: one is changed through
    the import, the other through the lead's form."""
    from conftest import AuthActions

    from portal.subcommittees.models import SubcommitteeMember

    import_ok(runner, tmp_path, plan_file("by-import"), "a.json")
    import_ok(runner, tmp_path, plan_file("by-form"), "b.json")
    lead = create_user("member", email="plan-lead@example.org")
    member = create_user("member", email="plan-member@example.org")
    with app.app_context():
        for slug in ("by-import", "by-form"):
            sub_id = subcommittee(slug).id
            db.session.add(SubcommitteeMember(subcommittee_id=sub_id, user_id=lead.id, is_lead=True,
                                              state=MembershipState.APPROVED))
            db.session.add(SubcommitteeMember(subcommittee_id=sub_id, user_id=member.id,
                                              state=MembershipState.APPROVED))
        db.session.commit()
    auth = AuthActions(app.test_client())
    assert auth.login(lead).status_code == 302
    return auth


def sequences(plan: dict[str, Any]) -> tuple[list[int], list[int]]:
    return [s[-1] for s in plan["session"]], [m[-1] for m in plan["milestone"]]


def test_a_session_changed_by_import_or_by_the_lead_gets_the_same_sequence_and_notice(
        app, runner, tmp_path, two_plans, outbox):
    session_id = plan_of(app, "by-form")["session"][0][0]
    steps = [
        ("title", {**PLAN_SESSION, "title": "キックオフ（全体会）"}),
        ("time", {**PLAN_SESSION, "title": "キックオフ（全体会）", "date": "2021-10-05", "start": "15:00",
                  "end": "16:30"}),
        ("link", {**PLAN_SESSION, "title": "キックオフ（全体会）", "date": "2021-10-05", "start": "15:00",
                  "end": "16:30", "join_url": "https://example.org/meet/2"}),
    ]
    for step, session in steps:
        import_ok(runner, tmp_path, plan_file("by-import", session), f"{step}.json")
        response = two_plans.post(f"/subcommittees/by-form/sessions/{session_id}", as_form(session))
        assert response.status_code == 302, (step, response.get_data(as_text=True)[:300])
        by_import, by_form = plan_of(app, "by-import"), plan_of(app, "by-form")
        assert sequences(by_import) == sequences(by_form), step
        assert [s[1:] for s in by_import["session"]] == [s[1:] for s in by_form["session"]], step

    # Only the move was significant (the title is not), and each way told both members once.
    assert sequences(plan_of(app, "by-import"))[0] == [2]
    moved = outbox("subcommittee.session_moved")
    assert sorted(row.recipients[0] for row in moved) == sorted(
        ["plan-lead@example.org", "plan-member@example.org"] * 2)
    assert sorted(row.subject.rsplit(": ", 1)[1] for row in moved) == ["分科会 by-form"] * 2 + ["分科会 by-import"] * 2


def test_a_milestone_renamed_by_import_stays_the_same_milestone_with_the_operations_sequence(
        app, runner, tmp_path, two_plans):
    """A title-only change: the importer once ignored it for SEQUENCE while the lead's operation
    counted it; now both go through the same operation, and the renamed milestone keeps its id
    (and calendar UID) instead of being dropped and added again."""
    from portal.subcommittees.operations import save_milestone

    before = plan_of(app, "by-import")["milestone"]
    import_ok(runner, tmp_path, plan_file("by-import", milestone={**PLAN_MILESTONE, "title": "分科会の立上げ"}),
              "renamed.json")
    with app.app_context():
        sub = subcommittee("by-form")
        save_milestone(sub, sub.milestones[0], title="分科会の立上げ", due_on=date(2021, 9, 30))
        db.session.commit()
    by_import, by_form = plan_of(app, "by-import"), plan_of(app, "by-form")
    assert by_import["milestone"][0][0] == before[0][0]
    assert by_import["milestone"][0][1] == "分科会の立上げ"
    assert sequences(by_import) == sequences(by_form)


def test_the_importer_refuses_the_dates_the_lead_s_form_refuses_with_the_same_message(
        app, runner, tmp_path, two_plans):
    before = snapshot(app)
    for bad in ("2021-02-30", "2020-10-05"):  # no such day; outside the subcommittee's fiscal year
        session = {**PLAN_SESSION, "number": 2, "date": bad}
        page = two_plans.post("/subcommittees/by-form/sessions", as_form(session), follow_redirects=True)
        flashed = re.findall(r'<p class="flash flash-error"[^>]*>(.*?)</p>', page.get_data(as_text=True), re.S)
        assert len(flashed) == 1, flashed
        message = flashed[0].strip()
        assert "日付" in message

        data = plan_file("by-import", session)
        data["subcommittees"][0]["sessions"].insert(0, PLAN_SESSION)
        result = import_file(runner, write(tmp_path, data, f"bad-{bad}.json"))
        assert_rejected(result, f"subcommittees[0] (slug=by-import).sessions[1].date: {message}", bad)
    assert snapshot(app) == before


# ----------------------------------------------------------------------------- demo

SEED_CONTACTS = [
    "hqt-scpf-ppp@gxb.mlit.go.jp", "akira.yasuda@pwc.com", "akira.naito@pwc.com", "kanto.fujihira@pwc.com",
    "070-3250-7942", "090-6656-8791", "080-3013-6965", "安田 景", "内藤 陽", "藤平 寛人",
]
EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE_RE = re.compile(r"0[5789]0-?\d{4}-?\d{4}")  # mobile numbers, written with or without hyphens
PHONE_DB_RE = re.compile(r"0[5789]0-\d{4}-\d{4}")  # hyphens required: hashes and tokens hold long digit runs


def test_demo_reproduces_the_seed_program(app, demo, client):
    with app.app_context():
        first = seminar("fy2021-1")
        assert first.title == "前橋市・浜松市・岡崎市による取組紹介・意見交換"
        assert first.series.name == SERIES and first.fiscal_year == 2021 and first.number == 1
        assert first.status is SeminarStatus.PUBLISHED
        assert first.precision is Precision.DAY
        assert to_local(first.starts_at) == datetime(2021, 8, 3, 15, 30, tzinfo=TOKYO)
        assert first.label() == "8月3日（火） 15:30～"
        program = first.program
        assert [(i.start_time, i.title) for i in program] == [
            (time(15, 30), "イントロダクション"),
            (time(15, 35), "事務局からの共有事項"),
            (time(15, 45), "実践都市による発表"),
            (time(16, 30), "質疑応答"),
        ]
        assert program[0].points == ["本日のオンラインセミナープログラム紹介", "次回以降の紹介 等"]
        assert program[1].points == [
            "スマートシティセキュリティガイドライン（第2.0版）の概要について",
            "ネット・ゼロスマートシティ分科会の発足について",
        ]
        assert [(p.display, p.point_index) for p in program[1].presenters] == [
            ("総務省 サイバーセキュリティ統括官室 様", 0),
            ("PwCコンサルティング合同会社 様", 1),
        ]
        assert program[2].points == ["自治体ご担当者様からご説明"]
        assert [p.display for p in program[2].presenters] == ["前橋市 様", "浜松市 様", "岡崎市 様"]
        assert any("Q&A" in note for note in program[3].notes)
        seminar_id = first.id

    html = client.get(f"/seminars/{seminar_id}").get_data(as_text=True)
    assert "（総務省 サイバーセキュリティ統括官室 様）" in html
    assert "（PwCコンサルティング合同会社 様）" in html
    assert "（前橋市 様、浜松市 様、岡崎市 様）" in html


def test_demo_reproduces_the_schedule_and_subcommittee(app, demo, client):
    with app.app_context():
        second, third = seminar("fy2021-2"), seminar("fy2021-3")
        assert (second.number, second.date_on, second.precision) == (2, date(2021, 10, 1), Precision.EARLY)
        assert second.title.startswith("中山間地での取組や都市OSを導入した地域の取組紹介・意見交換")
        assert (third.number, third.date_on, third.precision, third.title) == (
            3, date(2021, 12, 1), Precision.EARLY, None)
        assert third.is_tentative

        sub = subcommittee("net-zero")
        assert sub.name == "ネット・ゼロ スマートシティ検討分科会"
        assert sub.proposer == "PwCコンサルティング合同会社"
        assert set(sub.fields) <= {"交通・モビリティ", "エネルギー", "防災", "インフラ維持管理", "観光・地域活性化",
                                   "健康・医療", "環境", "農林水産業", "都市計画・整備", "物流",
                                   "セキュリティ・見守り", "その他"}
        assert "ネット・ゼロ スマートシティ実現のロードマップ" in sub.outcomes
        assert [(s.circled_number, s.title) for s in sub.sessions] == [
            ("①", "ネット・ゼロ×スマートシティへの理解"),
            ("②", "ネット・ゼロスマートシティの実現に向けた現在/将来のアクション"),
            ("③", "ネット・ゼロスマートシティの評価"),
            ("④", "達成に向けたロードマップ"),
        ]
        assert [(m.title, m.due_on) for m in sub.milestones] == [
            ("分科会立上げ", date(2021, 9, 30)), ("報告書作成", date(2022, 3, 31)),
        ]
        assert [a.label for a in sub.activities][:2] == ["活動1", "活動2"]

    api = {s["key"]: s for s in client.get("/api/v1/seminars").get_json()["seminars"]}
    assert api["fy2021-1"]["start"] == "2021-08-03T15:30:00+09:00"
    assert api["fy2021-2"]["date_label"] == "10月上旬" and api["fy2021-2"]["start"] is None
    assert api["fy2021-3"]["date_label"] == "12月上旬" and api["fy2021-3"]["title"] is None


@pytest.mark.parametrize("today", [date(2026, 12, 4), date(2026, 12, 10), date(2027, 5, 6)])
def test_demo_upcoming_day_is_a_tuesday_weeks_ahead_outside_the_year_end_closure(today):
    from portal.imports.demo import _upcoming_date

    day = _upcoming_date(today)
    assert day.weekday() == 1 and day - today >= timedelta(days=21)
    assert not ((day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3)), day


def test_demo_upcoming_seminar_is_open(app, demo):
    with app.app_context():
        upcoming = seminar("demo-upcoming")
        assert upcoming.status is SeminarStatus.PUBLISHED
        assert upcoming.precision is Precision.DAY
        assert upcoming.date_on > today_local()
        assert upcoming.starts_at is not None and to_local(upcoming.starts_at).date() == upcoming.date_on
        assert upcoming.registration_open and upcoming.qa_open
        assert upcoming.fiscal_year == (upcoming.date_on.year if upcoming.date_on.month >= 4
                                        else upcoming.date_on.year - 1)
        assert upcoming.program


def test_demo_uses_only_example_org_addresses(app, demo):
    text = DEMO_FILE.read_text(encoding="utf-8")
    found = EMAIL_RE.findall(text)
    assert found, "the demo lists contact persons with e-mail addresses"
    assert [e for e in found if not e.endswith("@example.org")] == []
    for real in SEED_CONTACTS:
        assert real not in text
    assert "pwc.com" not in text and "mlit.go.jp" not in text
    assert PHONE_RE.findall(text) == []

    with app.app_context():
        emails = db.session.scalars(select(User.email)).all()
    assert emails and all(e.endswith("@example.org") for e in emails)

    everything = repr(snapshot(app))
    assert [e for e in EMAIL_RE.findall(everything) if not e.endswith("@example.org")] == []
    for real in SEED_CONTACTS:
        assert real not in everything
    assert PHONE_DB_RE.findall(everything) == []


def test_demo_twice_changes_nothing(app, runner, demo):
    before = snapshot(app)
    result = runner.invoke(args=["portal", "demo"])
    assert result.exit_code == 0, result.output
    assert "updated: none" in result.output
    after = snapshot(app)
    assert counts(after) == counts(before)
    assert after == before  # updated_at and sequence included


def test_demo_accounts_can_log_in(app, demo, auth, client):
    response = auth.login("member@example.org", "demo-member-2021")
    assert response.status_code == 302
    assert client.get("/account").status_code == 200


# ----------------------------------------------------------------------------- create-user


def _create_user(runner, *, email="new.member@example.org", role="member", org="新潟市", password="long-enough-pw"):
    args = ["portal", "create-user", "--email", email, "--name", "新井 太郎", "--role", role, "--password-stdin"]
    if org:
        args[-1:-1] = ["--org", org]
    return runner.invoke(args=args, input=password + "\n")


def test_create_user_makes_an_active_account_that_can_log_in(app, runner, auth, client):
    assert client.get("/account").status_code == 302
    result = _create_user(runner)
    assert result.exit_code == 0, result.output

    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "new.member@example.org"))
        assert user is not None
        assert user.state is AccountState.ACTIVE and user.role is Role.MEMBER
        assert user.name == "新井 太郎"
        assert user.organization is not None and user.organization.name == "新潟市"
        assert user.organization.membership is Membership.MEMBER

    response = auth.login("new.member@example.org", "long-enough-pw")
    assert response.status_code == 302
    page = client.get("/account")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "new.member@example.org" in html and "新潟市" in html


def test_create_user_joins_an_existing_organization(app, runner):
    assert _create_user(runner, email="a@example.org").exit_code == 0
    result = _create_user(runner, email="b@example.org", role="observer")
    assert result.exit_code == 0, result.output
    with app.app_context():
        orgs = db.session.scalars(select(Organization).where(Organization.name == "新潟市")).all()
        assert len(orgs) == 1
        users = db.session.scalars(select(User).order_by(User.email)).all()
        assert [(u.email, u.role, u.organization_id) for u in users] == [
            ("a@example.org", Role.MEMBER, orgs[0].id), ("b@example.org", Role.OBSERVER, orgs[0].id),
        ]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        pytest.param({"role": "admin"}, "role", id="bad-role"),
        pytest.param({"password": "short-pw"}, "10", id="short-password"),
        pytest.param({"password": ""}, "10", id="empty-password"),
    ],
)
def test_create_user_refuses_and_creates_nothing(app, runner, auth, client, kwargs, fragment):
    before = snapshot(app)
    result = _create_user(runner, **kwargs)
    assert result.exit_code != 0, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert fragment in result.output
    assert snapshot(app) == before  # no account, no organization, no audit event
    password = kwargs.get("password", "long-enough-pw")
    if password:
        auth.login("new.member@example.org", password)
        assert client.get("/account").status_code == 302


def test_create_user_refuses_a_taken_address(app, runner):
    assert _create_user(runner).exit_code == 0
    before = snapshot(app)
    result = _create_user(runner, email="New.Member@example.org", org="別の市")
    assert result.exit_code != 0
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert snapshot(app) == before


def test_a_presenter_of_a_point_the_item_lacks_is_an_error_and_changes_nothing(app):
    record = {"key": "imp-points", "series": "官民連携プラットフォーム オンラインセミナー", "fiscal_year": 2021,
              "number": 1, "title": "発表者の項目", "date": "2021-08-03", "status": "published",
              "program": [{"title": "共有事項", "points": ["ガイドラインの概要"],
                           "presenters": [{"organization": "総務省", "point": 1}]},
                          {"title": "発表", "presenters": [{"organization": "前橋市", "point": 0}]}]}
    with app.app_context():
        with pytest.raises(ImportFailed) as raised:
            import_data({"seminars": [record]})
        message = str(raised.value)
        where = "seminars[0] (key=imp-points).program"
        assert f"{where}[0].presenters[0].point: must be a whole number from 0 to 0, got 1" in message
        assert f"{where}[1].presenters[0].point: names a point, but the item has no points" in message
        db.session.rollback()
        assert db.session.scalar(select(Seminar).where(Seminar.key == "imp-points")) is None
