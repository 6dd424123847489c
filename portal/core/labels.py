"""The one label table: every state and code the portal stores, as people read it.

Screens, mails and CSV files show ``label(value)``; templates use the ``label`` filter. A state
is an enum member (its class name and value are the key); other codes (outbox kinds, audit
operations) are dotted strings looked up under their kind. Labels are lazy, so the visitor's
language (Japanese or English) applies when they are shown. A code missing from the table is
shown as itself: the table test lists every enum member, so that can only happen to a new code.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import Any

from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

STATES: dict[str, dict[str, Any]] = {
    "Precision": {
        "day": _l("日付"), "early": _l("上旬"), "mid": _l("中旬"), "late": _l("下旬"),
        "month": _l("月のみ"), "undecided": _l("未定"),
    },
    "SeminarStatus": {"draft": _l("下書き"), "published": _l("公開"), "cancelled": _l("中止")},
    "SeminarBadge": {"cancelled": _l("中止"), "draft": _l("下書き"), "tentative": _l("予定")},
    "QaState": {"not_started": _l("未開始"), "open": _l("受付中"), "closed": _l("終了")},
    "SeminarPhase": {"upcoming": _l("開催前"), "running": _l("開催中"), "over": _l("終了")},
    "RegistrationState": {
        "registered": _l("参加登録済み"), "waiting": _l("キャンセル待ち"), "cancelled": _l("取消済み"),
    },
    "QuestionState": {"open": _l("未回答"), "answered_live": _l("当日回答済み"), "hidden": _l("非表示")},
    "SubcommitteeStatus": {
        "proposed": _l("確認中"), "changes_requested": _l("修正依頼あり"), "active": _l("活動中"),
        "rejected": _l("見送り"), "closed": _l("終了"),
    },
    "MembershipState": {
        "pending": _l("申請中"), "approved": _l("参加中"), "declined": _l("見送り"), "left": _l("退会済み"),
    },
    "SessionStatus": {"scheduled": lazy_pgettext("meeting status", "予定"), "cancelled": _l("中止")},
    "MilestoneState": {"planned": _l("予定"), "done": _l("完了"), "late": _l("遅延")},
    "OrganizationKind": {
        "municipality": _l("自治体"), "ministry": _l("府省庁"), "company": _l("企業"),
        "university": _l("大学・研究機関"), "other": _l("その他"),
    },
    "Membership": {"member": _l("会員"), "observer": _l("オブザーバー")},
    "Role": {"secretariat": _l("事務局"), "member": _l("会員"), "observer": _l("オブザーバー")},
    "AccountState": {
        "pending": _l("承認待ち"), "active": _l("有効"), "rejected": _l("却下済み"), "deactivated": _l("停止中"),
    },
    "Segment": {
        "all_members": _l("会員・オブザーバー全員"), "subcommittee": _l("分科会のメンバー"),
        "registrants": _l("このセミナーの参加登録者"), "waitlist": _l("このセミナーのキャンセル待ち"),
        "no_shows": _l("参加登録したが欠席した方"),
    },
    "AnnouncementState": {"scheduled": _l("予約済み"), "sent": _l("送信済み")},
    "OutboxStatus": {
        "pending": _l("送信待ち"), "sending": _l("送信中"), "sent": _l("送信済み"), "failed": _l("送信失敗"),
    },
}

# Dotted codes: what a mail in the outbox is, and what an audit event records.
CODES: dict[str, dict[str, Any]] = {
    "mail": {
        "account.signup_received": _l("利用申請の受付"),
        "account.signup_secretariat": _l("利用申請（事務局あて）"),
        "account.approved": _l("アカウント承認"),
        "account.rejected": _l("利用申請の却下"),
        "account.password_reset": _l("パスワード再設定"),
        "account.password_changed": _l("パスワード変更のお知らせ"),
        "account.totp_enrolment": _l("二要素認証の設定用リンク"),
        "account.signup_existing": _l("登録済みアドレスでの利用申請のお知らせ"),
        "account.deletion_requested": _l("削除依頼（事務局あて）"),
        "inventory.review_reminder": _l("アカウント棚卸しのお知らせ"),
        "registration.registered": _l("参加登録の確認"),
        "registration.waiting": _l("キャンセル待ちの確認"),
        "registration.promoted": _l("キャンセル待ちからの繰り上げ"),
        "registration.cancelled": _l("参加取消の確認"),
        "registration.reminder": _l("開催前日のお知らせ"),
        "seminar.rescheduled": _l("日時変更のお知らせ"),
        "seminar.cancelled_by_secretariat": _l("開催中止のお知らせ"),
        "seminar.announcement": _l("参加登録者へのお知らせ"),
        "seminar.announcement_test": _l("参加登録者へのお知らせ（テスト送信）"),
        "qa.digest": _l("未回答の質問（事務局あて）"),
        "subcommittee.join_received": _l("分科会への参加申請の受付"),
        "announcement": _l("開催案内"),
        "announcement.test": _l("開催案内（テスト送信）"),
        "qa.followup": _l("追加の質問（事務局あて）"),
        "qa.answer": _l("質問への回答"),
        "qa.hidden": _l("質問の非表示のお知らせ"),
        "subcommittee.proposed": _l("分科会の提案（事務局あて）"),
        "subcommittee.revised": _l("分科会の提案の修正（事務局あて）"),
        "subcommittee.approve": _l("分科会の提案の承認"),
        "subcommittee.changes": _l("分科会の提案への修正依頼"),
        "subcommittee.reject": _l("分科会の提案の見送り"),
        "subcommittee.join_requested": _l("分科会への参加申請"),
        "subcommittee.join_decided": _l("分科会への参加申請の結果"),
        "subcommittee.session_scheduled": _l("分科会の日程のお知らせ"),
        "subcommittee.session_moved": _l("分科会の日程変更のお知らせ"),
        "subcommittee.session_cancelled": _l("分科会の中止のお知らせ"),
        "subcommittee.session_left": _l("分科会の予定の取り消し（退会）"),
        "subcommittee.milestone_reminder": _l("マイルストーン期日のお知らせ"),
    },
    "audit": {
        "account.signup": _l("利用申請"),
        "account.signup_existing": _l("登録済みアドレスでの利用申請"),
        "account.created": _l("アカウント作成"),
        "account.approved": _l("アカウント承認"),
        "account.rejected": _l("利用申請の却下"),
        "account.role_changed": _l("ロール変更"),
        "account.state_changed": _l("アカウント状態の変更"),
        "account.anonymized": _l("匿名化"),
        "account.data_exported": _l("本人データの書き出し"),
        "account.deletion_requested": _l("削除依頼"),
        "calendar.token_regenerated": _l("カレンダーURLの再発行"),
        "export.audit": _l("監査ログの書き出し"),
        "export.inventory": _l("アカウント一覧の書き出し"),
        "export.questions": _l("質問一覧の書き出し"),
        "export.registrants": _l("参加登録者一覧の書き出し"),
        "inventory.reviewed": _l("棚卸し確認"),
        "login.success": _l("ログイン"),
        "login.failure": _l("ログイン失敗"),
        "login.locked": _l("待機中のログイン試行"),
        "login.lockout": _l("ログインの制限開始"),
        "login.password_ok": _l("パスワード確認（二要素認証待ち）"),
        "login.refused": _l("ログイン拒否"),
        "logout": _l("ログアウト"),
        "logout.everywhere": _l("すべての端末からログアウト"),
        "password.reset": _l("パスワード再設定"),
        "password.reset_requested": _l("パスワード再設定の依頼"),
        "password.reset_not_mailed": _l("パスワード再設定メールの上限超過（送信せず）"),
        "password.changed": _l("パスワード変更"),
        "password.change_refused": _l("パスワード変更の失敗"),
        "2fa.enabled": _l("二要素認証の設定"),
        "2fa.disabled": _l("二要素認証の解除"),
        "2fa.failure": _l("二要素認証の失敗"),
        "2fa.recovery_code_used": _l("リカバリーコードの使用"),
        "2fa.replayed": _l("使用済み確認コードの再使用"),
        "2fa.throttled": _l("待機中の確認コード入力"),
        "2fa.enrolment_link_mailed": _l("二要素認証の設定用リンクの送信"),
        "2fa.enrolment_link_not_mailed": _l("二要素認証の設定用リンクの上限超過（送信せず）"),
        "qa.closed": _l("Q&A終了"),
        "seminar.created": _l("セミナーの作成"),
        "seminar.copied": _l("過去のセミナーからプログラムをコピー"),
        "seminar.updated": _l("セミナーの変更"),
        "seminar.rescheduled": _l("セミナーの日時変更"),
        "seminar.published": _l("セミナーの公開"),
        "seminar.unpublished": _l("セミナーを下書きに戻す"),
        "seminar.cancelled": _l("セミナーの中止"),
        "seminar.mailed": _l("参加登録者へのメール送信"),
        "attendance.recorded": _l("出席の記録"),
        "attendance.imported": _l("出席レポートの取り込み"),
        "series.created": _l("シリーズの作成"),
        "series.updated": _l("シリーズの変更"),
        "series.generated": _l("隔月のセミナーの一括作成"),
        "program.added": _l("プログラム項目の追加"),
        "program.updated": _l("プログラム項目の変更"),
        "program.moved": _l("プログラム項目の並べ替え"),
        "program.deleted": _l("プログラム項目の削除"),
        "material.uploaded": _l("資料のアップロード"),
        "material.deleted": _l("資料の削除"),
        "qa.hidden": _l("質問の非表示"),
        "qa.approved": _l("質問の承認"),
        "qa.routed": _l("未回答の質問を事務局へ送付"),
        "subcommittee.proposed": _l("分科会の提案"),
        "subcommittee.approve": _l("分科会の提案の承認"),
        "subcommittee.changes": _l("分科会の提案への修正依頼"),
        "subcommittee.reject": _l("分科会の提案の見送り"),
        "subcommittee.lead_appointed": _l("分科会リーダーの任命"),
        "subcommittee.member_approved": _l("分科会メンバーの承認"),
        "subcommittee.member_declined": _l("分科会メンバーの見送り"),
    },
}


# The parts of an audit event's details, as the audit log names them ("field": a changed value).
CODES["detail"] = {
    "seminar": _l("セミナー"), "series": _l("シリーズ・年度"), "number": _l("回数"), "title": _l("テーマ"),
    "description": _l("説明"), "when": _l("日時"), "status": _l("状態"), "capacity": _l("定員"),
    "registration_open": _l("参加申込"), "registration_opens_at": _l("受付開始"),
    "registration_closes_at": _l("受付締切"), "join_url": _l("参加用リンク"), "mailbox": _l("質問の送付先"),
    "program_moved": _l("プログラムも移動"), "source": _l("コピー元"), "item": _l("プログラム項目"),
    "start_time": _l("開始時刻"), "points": _l("内容"), "notes": _l("注記"), "presenters": _l("発表者"),
    "file": _l("ファイル"), "material": _l("資料"),
    "mail_subject": _l("件名"), "recipients": _l("送信先の人数"), "role": _l("ロール"),
    "from": _l("変更前"), "to": _l("変更後"), "routed": _l("事務局へ送った質問"), "rows": _l("行数"),
    "subcommittee": _l("分科会"), "accounts": _l("対象アカウント"), "questions": _l("質問"),
    "outbox": _l("送信メール"), "failures": _l("失敗回数"), "via": _l("経路"), "name": _l("名称"),
    "fiscal_year": _l("年度"), "count": _l("件数"), "public": _l("公開範囲"),
    "attended": _l("出席にした方"), "absent": _l("欠席にした方"),
}


def label(value: Any, kind: str | None = None) -> str:
    """How people read a state (an enum member) or a code of ``kind`` ("mail", "audit")."""
    if value is None:
        return ""
    if isinstance(value, enum.Enum):
        found = STATES.get(type(value).__name__, {}).get(value.value)
    else:
        found = CODES.get(kind or "", {}).get(str(value))
    return str(found) if found is not None else str(getattr(value, "value", value))


def labels_of(members: Iterable[enum.Enum]) -> dict[str, Any]:
    """``{value: lazy label}`` for these members (an enum class, or some of its members in the
    order a select field should offer them): the choices of a form field."""
    return {m.value: STATES.get(type(m).__name__, {}).get(m.value, m.value) for m in members}
