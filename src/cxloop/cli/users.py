"""``cxloop users ...`` and ``cxloop apikeys ...``: who may log in, and keys for integrations.

Each user has a role and a scope unit: they see that unit's subtree and nothing else. Passwords are stored
as argon2 hashes (:mod:`cxloop.services.access.identity`); API keys are printed once and stored as a hash.
Exit codes: 0 done; 2 the request cannot be done as asked (unknown unit or role, duplicate email...).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from cxloop.cli._context import CommandContext, DatabaseNotReadyError, ExitCodes, Failure
from cxloop.services.access import identity
from cxloop.store import api_keys as key_store
from cxloop.store import users as user_store
from cxloop.store.tables import Role

__all__ = ["apikeys_app", "users_app"]

EXIT_BAD_REQUEST = 2
EXIT_CODES = ExitCodes(Failure((DatabaseNotReadyError, ValueError), EXIT_BAD_REQUEST))

users_app = typer.Typer(
    help="Users: who logs in, with which role, seeing which unit's subtree.", no_args_is_help=True
)
apikeys_app = typer.Typer(
    help="API keys for integrations: each sees one unit's subtree; the key is printed once.",
    no_args_is_help=True,
)

_ROLES = ", ".join(r.value for r in Role)


def _context() -> CommandContext:
    """The command's app-database session, once the database is known to have its tables."""
    return CommandContext(database="set up")


@users_app.command("add")
@EXIT_CODES
def add_command(
    email: Annotated[str, typer.Option("--email", "-e", help="Login email (case does not matter).")],
    password: Annotated[
        str,
        typer.Option(
            "--password",
            "-p",
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            help="At least 8 characters.",
        ),
    ],
    role: Annotated[str, typer.Option("--role", "-r", help=f"One of {_ROLES}.")],
    unit: Annotated[str, typer.Option("--unit", "-u", help="Scope unit: the user sees its subtree.")],
    name: Annotated[str, typer.Option(help="Display name.")] = "",
) -> None:
    """Add a user who logs in with EMAIL and PASSWORD and sees UNIT's subtree."""
    with _context() as cmd:
        user = identity.add_user(cmd.session, email, password, role, unit, name=name)
    Console(soft_wrap=True).print(
        f"added [bold]{escape(user.email)}[/] ({user.role.value}) seeing [bold]{escape(user.unit_id)}[/]",
        highlight=False,
    )


@users_app.command("list")
@EXIT_CODES
def list_command(
    active: Annotated[bool, typer.Option("--active", help="Only users who can log in.")] = False,
) -> None:
    """Every user with role, scope unit and whether they can log in."""
    with _context() as cmd:
        users = user_store.list_users(cmd.session, include_disabled=not active)
        rows = [(u.email, u.role.value, u.unit_id, "yes" if u.is_active else "disabled") for u in users]
    table = Table("email", "role", "unit", "active", header_style="bold")
    for row in rows:
        table.add_row(*(escape(value) for value in row))
    Console(soft_wrap=True).print(table)


@users_app.command("disable")
@EXIT_CODES
def disable_command(email: Annotated[str, typer.Argument(help="The user's email.")]) -> None:
    """Stop a user from logging in (their sessions and tokens end at once; their history stays)."""
    with _context() as cmd:
        user = user_store.disable_user(cmd.session, email)
    Console(soft_wrap=True).print(f"disabled [bold]{escape(user.email)}[/]", highlight=False)


@users_app.command("password")
@EXIT_CODES
def password_command(
    email: Annotated[str, typer.Argument(help="The user's email.")],
    password: Annotated[
        str,
        typer.Option(
            "--password",
            "-p",
            prompt="New password",
            hide_input=True,
            confirmation_prompt=True,
            help="At least 8 characters.",
        ),
    ],
) -> None:
    """Set a user's password; every session and token of theirs ends (they log in again)."""
    with _context() as cmd:
        user = identity.set_password(cmd.session, email, password)
    Console(soft_wrap=True).print(
        f"new password for [bold]{escape(user.email)}[/]; their sessions have ended", highlight=False
    )


@users_app.command("logout")
@EXIT_CODES
def logout_command(email: Annotated[str, typer.Argument(help="The user's email.")]) -> None:
    """End every session and token of a user, everywhere (a lost laptop); they can log in again."""
    with _context() as cmd:
        user = user_store.get_user_by_email(cmd.session, email)
        if user is None:
            raise ValueError(f"no user with email {user_store.normalise_email(email)!r}")
        ended = identity.end_all_sessions(cmd.session, user.id)
        address = user.email
    Console(soft_wrap=True).print(f"ended {ended} session(s) of [bold]{escape(address)}[/]", highlight=False)


@apikeys_app.command("create")
@EXIT_CODES
def create_key_command(
    unit: Annotated[str, typer.Option("--unit", "-u", help="The key sees this unit's subtree.")],
    name: Annotated[str, typer.Option(help="What the key is for, e.g. 'crm sync'.")] = "",
    role: Annotated[str, typer.Option(help=f"One of {_ROLES}.")] = Role.analyst.value,
) -> None:
    """Create an API key and print it once (only a hash is stored: copy it now).

    Send it as an `X-API-Key` header or as a bearer token.
    """
    with _context() as cmd:
        made = key_store.create_api_key(cmd.session, unit, name=name, role=role)
    err = Console(stderr=True, soft_wrap=True)
    err.print(
        f"API key {made.record.prefix} for {escape(unit)} (shown once; revoke with "
        f"`cxloop apikeys revoke {made.record.prefix}`):",
        highlight=False,
    )
    typer.echo(made.key)


@apikeys_app.command("list")
@EXIT_CODES
def list_keys_command() -> None:
    """Every API key's prefix, unit, name and state (never the key itself)."""
    with _context() as cmd:
        rows = [
            (
                k.prefix,
                k.unit_id,
                k.role.value,
                k.name,
                "revoked" if k.revoked_at else "live",
                k.last_used_at.isoformat(timespec="seconds") if k.last_used_at else "-",
            )
            for k in key_store.list_api_keys(cmd.session)
        ]
    table = Table("prefix", "unit", "role", "name", "state", "last used", header_style="bold")
    for row in rows:
        table.add_row(*(escape(value) for value in row))
    Console(soft_wrap=True).print(table)


@apikeys_app.command("revoke")
@EXIT_CODES
def revoke_key_command(
    prefix: Annotated[str, typer.Argument(help="The key's prefix (from `apikeys list`).")],
) -> None:
    """Stop an API key from working."""
    with _context() as cmd:
        key_store.revoke_api_key(cmd.session, prefix)
    Console(soft_wrap=True).print(f"revoked API key {escape(prefix)}", highlight=False)
