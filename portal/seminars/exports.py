"""CSV exports for the back office (Japanese, as the secretariat files them)."""

from __future__ import annotations

from flask_babel import force_locale

from portal.accounts.models import Membership
from portal.core.csv import to_csv
from portal.core.dates import to_local
from portal.core.labels import label
from portal.seminars.models import RegistrationState, Seminar
from portal.seminars.queries import active_registrations

HEADER = ["状態", "氏名", "メールアドレス", "所属団体", "団体種別", "会員区分", "申込日時", "出席"]
# The list's own words for a row (a registrant "参加登録", not the state "参加登録済み").
ROW_STATES = {RegistrationState.REGISTERED: "参加登録", RegistrationState.WAITING: "キャンセル待ち"}


def registrants_csv(seminar: Seminar) -> bytes:
    """Everyone registered or waiting, with their organization's kind and membership, and for
    the registered 出席/欠席 once attendance is recorded (blank before, and for the waitlist)."""
    recorded = seminar.attendance_recorded_at is not None
    rows = []
    with force_locale("ja"):  # a file for the secretariat's records: the same in any UI language
        for r in active_registrations(seminar):
            org = r.user.organization
            rows.append([
                ROW_STATES[r.state], r.user.name, r.user.email, org.name if org else "",
                label(org.kind) if org else "",
                label(org.membership if org else Membership.OBSERVER),  # no organization: an observer
                to_local(r.queued_at).strftime("%Y-%m-%d %H:%M"),
                ("出席" if r.attended_at else "欠席") if recorded and r.state is RegistrationState.REGISTERED else "",
            ])
    return to_csv(HEADER, rows)
