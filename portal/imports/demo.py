"""The bundled demo: the seed's FY2021 series, program and subcommittee, plus one upcoming seminar.

Running it twice changes nothing: the upcoming seminar keeps the date it was given first (as
long as that date is still ahead), and demo accounts are created only when missing.
"""

from __future__ import annotations

import copy
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from portal.accounts.models import Membership, OrganizationKind, Role
from portal.core.dates import fiscal_year, today_local
from portal.core.db import db
from portal.seminars.models import Seminar

DEMO_FILE = Path(__file__).with_name("demo.json")
UPCOMING_KEY = "demo-upcoming"

# Fictional people, example.org addresses; passwords are for the local demo only.
DEMO_ACCOUNTS = [
    ("secretariat@example.org", "事務局 デモ", Role.SECRETARIAT, "官民連携プラットフォーム事務局",
     OrganizationKind.MINISTRY, Membership.MEMBER, "demo-secretariat"),
    ("member@example.org", "山田 花子", Role.MEMBER, "みらい市",
     OrganizationKind.MUNICIPALITY, Membership.MEMBER, "demo-member-2021"),
    ("observer@example.org", "佐々木 学", Role.OBSERVER, "さくら大学",
     OrganizationKind.UNIVERSITY, Membership.OBSERVER, "demo-observer-2021"),
]


def _upcoming_date(today: date) -> date:
    """A Tuesday three to four weeks ahead, like the seed's 8月3日（火）, outside the year-end
    closure of public offices (年末年始, 12月29日–1月3日), when no secretariat holds a seminar."""
    day = today + timedelta(days=21)
    day += timedelta(days=(1 - day.weekday()) % 7)
    while (day.month, day.day) >= (12, 29) or (day.month, day.day) <= (1, 3):
        day += timedelta(days=7)
    return day


def demo_data(today: date | None = None) -> dict[str, Any]:
    data = copy.deepcopy(json.loads(DEMO_FILE.read_text(encoding="utf-8")))
    today = today or today_local()
    existing = db.session.scalar(select(Seminar).where(Seminar.key == UPCOMING_KEY))
    if existing is not None and existing.date_on and existing.date_on > today:
        day = existing.date_on
    else:
        day = _upcoming_date(today)
    for seminar in data["seminars"]:
        if seminar["key"] == UPCOMING_KEY:
            seminar["date"] = day.isoformat()
            seminar["fiscal_year"] = fiscal_year(day)
    return data


def ensure_demo_accounts() -> list[str]:
    from portal.accounts.operations import create_user, find_or_create_organization
    from portal.accounts.queries import find_user

    lines = []
    for email, name, role, org_name, kind, membership, password in DEMO_ACCOUNTS:
        if find_user(email) is None:
            org = find_or_create_organization(org_name, kind, membership)
            create_user(email=email, name=name, password=password, role=role, organization=org)
            lines.append(f"demo account created: {email} ({role.value})")
    return lines
