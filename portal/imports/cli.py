"""``flask portal …``: import, demo data, accounts from the command line."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from portal.cli import portal_cli
from portal.core.db import db, transaction
from portal.imports.checks import ImportFailed
from portal.imports.operations import import_data


def _load_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise click.ClickException(f"{path}: not UTF-8 text ({exc})") from exc
    except json.JSONDecodeError as exc:
        raise click.ClickException(
            f"{path}: not valid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}") from exc
    except RecursionError as exc:
        raise click.ClickException(f"{path}: nested too deeply to be an import file") from exc


def run_import(data: object, source: str) -> None:
    try:
        with transaction():  # the whole file, or nothing
            report = import_data(data)
    except RecursionError as exc:
        raise click.ClickException(f"{source}: nested too deeply to be an import file; nothing was imported") from exc
    except ImportFailed as exc:
        lines = "\n".join(f"  - {e}" for e in exc.errors)
        raise click.ClickException(f"{source}: nothing was imported; fix these and try again:\n{lines}") from exc
    click.echo(f"{source}: imported ({report})")


@portal_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_command(file: Path) -> None:
    """Create or update organizations, seminars and subcommittees from FILE.json."""
    run_import(_load_json(file), str(file))


@portal_cli.command("demo")
@click.option("--if-empty", is_flag=True, help="Only when the database holds no seminar yet.")
def demo_command(if_empty: bool) -> None:
    """Load the bundled demo data (the seed's FY2021 series, program, Net-Zero subcommittee)."""
    from sqlalchemy import func, select

    from portal.imports.demo import demo_data, ensure_demo_accounts
    from portal.seminars.models import Seminar

    if if_empty and db.session.scalar(select(func.count()).select_from(Seminar)):
        click.echo("demo: the database already holds seminars; demo data not loaded")
        return

    run_import(demo_data(), "demo")
    with transaction():
        lines = ensure_demo_accounts()
    for line in lines:
        click.echo(line)


@portal_cli.command("create-user")
@click.option("--email", required=True)
@click.option("--name", required=True)
@click.option("--role", required=True, type=click.Choice(["secretariat", "member", "observer"]))
@click.option("--org", "org_name", default=None, help="Organization name (created if new).")
@click.option("--password-stdin", is_flag=True, required=True, help="Read the password from standard input.")
def create_user_command(email: str, name: str, role: str, org_name: str | None, password_stdin: bool) -> None:
    """Create an active account."""
    from portal.accounts.models import Membership, OrganizationKind, Role
    from portal.accounts.operations import create_user, find_or_create_organization
    from portal.audit.services import record
    from portal.core.errors import DomainError

    password = sys.stdin.readline().rstrip("\r\n")
    org = None
    if org_name:
        membership = Membership.OBSERVER if role == "observer" else Membership.MEMBER
        org = find_or_create_organization(org_name, OrganizationKind.OTHER, membership)
    try:
        with transaction():
            user = create_user(email=email, name=name, password=password, role=Role(role), organization=org)
            record("account.created", subject=user.email, details={"role": role, "via": "cli"})
    except DomainError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"created {role} account {user.email}")
