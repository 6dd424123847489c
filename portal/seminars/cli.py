"""``flask portal send-reminders``: reminders, safe to run from cron every few minutes."""

from __future__ import annotations

import click

from portal.cli import portal_cli
from portal.seminars.jobs import send_reminders


@portal_cli.command("send-reminders")
def send_reminders_command() -> None:
    """Day-before seminar reminders and week-before milestone reminders (each once)."""
    from portal.subcommittees.jobs import send_milestone_reminders

    click.echo(f"send-reminders: {send_reminders()} seminar reminder(s) queued")
    click.echo(f"send-reminders: {send_milestone_reminders()} milestone reminder(s) queued")
    from portal.announcements.jobs import send_due_announcements

    click.echo(f"send-reminders: {send_due_announcements()} scheduled announcement(s) sent")
    from portal.governance.jobs import send_review_reminder

    if send_review_reminder():
        click.echo("send-reminders: account review (棚卸し) reminder queued for the secretariat")
