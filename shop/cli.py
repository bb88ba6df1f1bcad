"""Flask CLI commands (``flask staff create``, ``flask demo load``, ``flask outbox send``)."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from shop import clock
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


def init_app(app: Flask) -> None:
    app.cli.add_command(staff_cli)

    from shop.demo import demo_cli
    from shop.services.mail import outbox_cli
    from shop.services.orders import orders_cli

    app.cli.add_command(demo_cli)
    app.cli.add_command(outbox_cli)
    app.cli.add_command(orders_cli)
