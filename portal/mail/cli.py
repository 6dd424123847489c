"""``flask mail deliver``: the delivery worker."""

from __future__ import annotations

import time

import click
from flask.cli import AppGroup

from portal.core.db import db
from portal.mail.services import deliver_batch

mail_cli = AppGroup("mail", help="Outbox delivery.")


@mail_cli.command("deliver")
@click.option("--once", is_flag=True, help="One pass over the due messages, then exit.")
@click.option("--interval", default=2.0, show_default=True, help="Seconds between passes.")
def deliver_command(once: bool, interval: float) -> None:
    """Send pending outbox messages. Failures stay pending with their error and are retried."""
    if once:
        # One pass over everything due now, batch after batch; failures are rescheduled into
        # the future, so the pass ends.
        report = deliver_batch()
        click.echo(f"mail deliver: {report}")
        while report.claimed:
            report = deliver_batch()
            if report.claimed:
                click.echo(f"mail deliver: {report}")
        return
    click.echo(f"mail deliver: running, checking the outbox every {interval:g} s")
    while True:
        try:
            report = deliver_batch()
            while report.claimed:  # drain a backlog before sleeping
                click.echo(f"mail deliver: {report}")
                report = deliver_batch()
        except Exception as exc:
            db.session.rollback()
            click.echo(f"mail deliver: {type(exc).__name__}: {exc}; retrying", err=True)
        finally:
            db.session.remove()
        time.sleep(interval)
