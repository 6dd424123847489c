"""``flask mail deliver``: the delivery worker."""

from __future__ import annotations

import logging
import time

import click
from flask.cli import AppGroup

from portal.core.db import db
from portal.mail.delivery import deliver_batch

mail_cli = AppGroup("mail", help="Outbox delivery.")
log = logging.getLogger(__name__)


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
        except Exception:  # whatever happens (the database restarts…), the worker goes on
            db.session.rollback()
            log.exception("mail deliver: the pass stopped; trying again in %g s", interval)
        finally:
            db.session.remove()
        time.sleep(interval)
