"""Flask CLI commands (``flask staff create``, ``flask retention sweep``, ``flask demo load``)."""

from __future__ import annotations

from datetime import date

import click
from flask import Flask
from flask.cli import AppGroup

from shop import clock
from shop.domain.errors import InvalidPolicy
from shop.models.customer import Role
from shop.services import customers

staff_cli = AppGroup("staff", help="Manage staff accounts.")


@staff_cli.command("create")
@click.option("--email", required=True, help="Login e-mail of the staff member.")
@click.option("--name", required=True, help="Full name.")
@click.option(
    "--role",
    "roles",
    multiple=True,
    required=True,
    type=click.Choice([role.value for role in Role]),
    help="Role to grant; repeat for several.",
)
@click.password_option(help="Password (prompted when not given).")
def create_staff(email: str, name: str, roles: tuple[str, ...], password: str) -> None:
    """Create a staff user with one or more roles."""
    if len(password) < customers.MIN_PASSWORD_LENGTH:
        raise click.ClickException(
            f"The password must be at least {customers.MIN_PASSWORD_LENGTH} characters long."
        )
    try:
        customers.create_staff_member(
            email=email,
            name=name,
            password=password,
            roles=[Role(role) for role in roles],
            now=clock.utcnow(),
        )
    except customers.EmailTaken:
        raise click.ClickException(f"An account with the e-mail {email} already exists.") from None
    click.echo(f"Created staff user {email} with roles: {', '.join(roles)}.")


retention_cli = AppGroup("retention", help="The retention sweeper (privacy.md S1-S7).")


@retention_cli.command("sweep")
@click.option(
    "--date",
    "sweep_date",
    metavar="YYYY-MM-DD",
    help="The day to sweep for (default: today, Europe/Stockholm).",
)
@click.option("--dry-run", is_flag=True, help="Print what would happen; change nothing (S2).")
@click.option("--batch-size", type=click.IntRange(min=1), help="Records per transaction.")
def retention_sweep(sweep_date: str | None, dry_run: bool, batch_size: int | None) -> None:
    """Anonymise or purge every record whose retention has run out (S1); cron it daily."""
    from shop.services import retention

    today = clock.today()
    if sweep_date is None:
        day = today
    else:
        try:
            day = date.fromisoformat(sweep_date)
        except ValueError:
            raise click.ClickException(
                f"The date {sweep_date!r} is not a date: give it as YYYY-MM-DD."
            ) from None
        if day > today:
            raise click.ClickException(
                f"The date {day.isoformat()} is in the future: a sweep runs for today "
                "or a day already passed."
            )

    def emit(line: retention.ReportLine) -> None:
        click.echo(f"{line.rule}\t{line.action}\t{line.subject_type}\t{line.subject}")

    try:
        result = retention.sweep(
            day, now=clock.utcnow(), dry_run=dry_run, batch_size=batch_size, emit=emit
        )
    except retention.SweepLocked:
        click.echo("Another retention sweep is running; this one stops without doing anything.")
        return
    except InvalidPolicy as problem:
        raise click.ClickException(f"The retention settings are not lawful: {problem}") from None
    mode = "Dry run (nothing changed)" if dry_run else f"Sweep run {result.run_id}"
    click.echo(f"{mode} for {day.isoformat()}: {result.batches} batches.")
    if not result.counts:
        click.echo("Nothing to do.")
    for key in sorted(result.counts):
        click.echo(f"  {key}: {result.counts[key]}")


def init_app(app: Flask) -> None:
    app.cli.add_command(staff_cli)
    app.cli.add_command(retention_cli)

    from shop.demo import demo_cli
    from shop.services.course_invoicing import courses_cli
    from shop.services.mail import outbox_cli
    from shop.services.orders import orders_cli

    app.cli.add_command(demo_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(orders_cli)
    app.cli.add_command(courses_cli)
