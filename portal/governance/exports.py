"""Governance files: the inventory as an Excel-ready CSV, and an account's own data as JSON."""

from __future__ import annotations

import json
from datetime import datetime

from flask_babel import force_locale
from sqlalchemy import select

from portal.accounts.models import Role, User
from portal.core.csv import to_csv
from portal.core.dates import to_local
from portal.core.db import db
from portal.core.labels import label
from portal.governance.queries import leads_by_user, own_data

INVENTORY_HEADER = ["氏名", "メールアドレス", "所属団体", "ロール", "分科会リーダー", "状態", "登録日時",
                    "最終ログイン", "最終棚卸し", "確認者", "二要素認証"]


def inventory_csv(users: list[User]) -> bytes:
    leads = leads_by_user()
    reviewers = {u.id: u.name for u in db.session.scalars(select(User).where(User.role == Role.SECRETARIAT))}

    def when(value: datetime | None) -> str:
        return to_local(value).strftime("%Y-%m-%d %H:%M") if value else ""

    with force_locale("ja"):  # a Japanese file (its header is), whatever the page's language
        rows = [[
            u.name, u.email, u.organization.name if u.organization else "", label(u.role),
            "、".join(leads.get(u.id, [])), label(u.state), when(u.created_at), when(u.last_login_at),
            when(u.reviewed_at), reviewers.get(u.reviewed_by_id, "") if u.reviewed_by_id else "",
            "有効" if u.totp_secret else "",
        ] for u in users]
    return to_csv(INVENTORY_HEADER, rows)


def own_data_json(user: User) -> bytes:
    return json.dumps(own_data(user), ensure_ascii=False, indent=2).encode("utf-8")
