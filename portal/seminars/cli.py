"""``flask portal send-reminders``: the day-before reminder, safe to run from cron."""

from __future__ import annotations

import click

from portal.cli import portal_cli
from portal.seminars.services import send_reminders


@portal_cli.command("send-reminders")
def send_reminders_command() -> None:
    """Mail registered people the day before their seminar (each registration once)."""
    click.echo(f"send-reminders: {send_reminders()} reminder(s) queued")
