"""``flask mail deliver``: the delivery worker."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from portal.mail.services import deliver_batch

mail_cli = AppGroup("mail", help="Outbox delivery.")


@mail_cli.command("deliver")
@click.option("--once", is_flag=True, help="One pass over the due messages, then exit.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between passes.")
def deliver_command(once: bool, interval: float) -> None:
    """Send pending outbox messages. Failures stay pending with their error and are retried."""
    while True:
        report = deliver_batch()
        while report.claimed and not once:  # drain a backlog before sleeping
            click.echo(f"mail deliver: {report}")
            report = deliver_batch()
        if once:
            click.echo(f"mail deliver: {report}")
            return
        time.sleep(interval)
