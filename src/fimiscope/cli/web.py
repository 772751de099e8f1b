"""`fimiscope serve` (the analyst dashboard) and `fimiscope users add|remove|list|passwd|role`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from fimiscope.cli._app import DEFAULT_STORE, JsonOpt, StoreOpt, app, open_store, print_json

users_app = typer.Typer(
    name="users",
    help="Dashboard users and their roles (viewer, analyst, admin).",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")

RoleOpt = Annotated[
    str, typer.Option("--role", "-r", help="viewer (read), analyst (review, export), admin.")
]
PasswordStdin = Annotated[
    bool,
    typer.Option("--password-stdin", help="Read the password from the first line of stdin."),
]


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="Log-in name.")],
    role: RoleOpt = "viewer",
    password_stdin: PasswordStdin = False,
    store: StoreOpt = Path(DEFAULT_STORE),
) -> None:
    """Add a dashboard user (the password is asked for, or read from stdin)."""
    from fimiscope.web.users import add_user

    password = _password(password_stdin)
    with open_store(store) as st:
        add_user(st, username, password, role=role)
    print(f"added {username} ({role})", file=sys.stderr)


@users_app.command("remove")
def users_remove(
    username: Annotated[str, typer.Argument(help="Log-in name.")],
    store: StoreOpt = Path(DEFAULT_STORE),
) -> None:
    """Remove a user and end their sessions."""
    from fimiscope.web.users import remove_user

    with open_store(store) as st:
        remove_user(st, username)
    print(f"removed {username}", file=sys.stderr)


@users_app.command("passwd")
def users_passwd(
    username: Annotated[str, typer.Argument(help="Log-in name.")],
    password_stdin: PasswordStdin = False,
    store: StoreOpt = Path(DEFAULT_STORE),
) -> None:
    """Change a user's password (ends their sessions)."""
    from fimiscope.web.users import set_password

    password = _password(password_stdin)
    with open_store(store) as st:
        set_password(st, username, password)
    print(f"password of {username} changed", file=sys.stderr)


@users_app.command("role")
def users_role(
    username: Annotated[str, typer.Argument(help="Log-in name.")],
    role: Annotated[str, typer.Argument(help="viewer, analyst or admin.")],
    store: StoreOpt = Path(DEFAULT_STORE),
) -> None:
    """Change a user's role."""
    from fimiscope.web.users import set_role

    with open_store(store) as st:
        set_role(st, username, role)
    print(f"{username} is now {role}", file=sys.stderr)


@users_app.command("list")
def users_list(store: StoreOpt = Path(DEFAULT_STORE), json: JsonOpt = False) -> None:
    """List users and roles."""
    from fimiscope.web.users import list_users

    with open_store(store) as st:
        rows = list_users(st)
    if json:
        print_json(rows)
        return
    for u in rows:
        typer.echo(f"{u['username']}\t{u['role']}\t{u['created_at']:%Y-%m-%d}")


@app.command()
def serve(
    store: StoreOpt = Path(DEFAULT_STORE),
    host: Annotated[
        str, typer.Option(help="Address to listen on; anything but loopback exposes the data.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    ssl_certfile: Annotated[
        Path | None, typer.Option("--ssl-certfile", help="TLS certificate (PEM).")
    ] = None,
    ssl_keyfile: Annotated[
        Path | None, typer.Option("--ssl-keyfile", help="TLS private key (PEM).")
    ] = None,
    session_hours: Annotated[float, typer.Option(help="Sessions end after this long.")] = 12.0,
    key_file: Annotated[
        Path | None,
        typer.Option(envvar="FIMISCOPE_PSEUDONYM_KEY_FILE", help="Pseudonymisation key file."),
    ] = None,
) -> None:
    """Serve the analyst dashboard (log-in required; add users with `fimiscope users add`)."""
    from fimiscope.errors import ConfigError, MissingDependencyError
    from fimiscope.web.app import create_app, is_loopback

    try:
        import uvicorn
    except ImportError as exc:  # pragma: no cover - the web extra brings it
        raise MissingDependencyError("uvicorn", "web") from exc
    if (ssl_certfile is None) != (ssl_keyfile is None):
        raise ConfigError(
            "ssl_keyfile", "serve", "given together with --ssl-certfile", str(ssl_keyfile)
        )
    tls = ssl_certfile is not None
    if not is_loopback(host) and not tls:
        print(
            f"fimiscope: warning: serving on {host} without TLS: passwords, session cookies and "
            "findings cross the network in clear text; pass --ssl-certfile and --ssl-keyfile",
            file=sys.stderr,
            flush=True,
        )
    application = create_app(store, tls=tls, session_hours=session_hours, key_file=key_file)
    from fimiscope.web.users import list_users

    if not list_users(application.state.core.base):
        print(
            "fimiscope: warning: no dashboard user yet; add one with "
            "`fimiscope users add NAME --role admin`",
            file=sys.stderr,
        )
    scheme = "https" if tls else "http"
    print(f"fimiscope: dashboard on {scheme}://{host}:{port}/", file=sys.stderr, flush=True)
    config = uvicorn.Config(
        application,
        host=host,
        port=port,
        ssl_certfile=str(ssl_certfile) if ssl_certfile else None,
        ssl_keyfile=str(ssl_keyfile) if ssl_keyfile else None,
        proxy_headers=False,
        server_header=False,
        log_level="warning",
        limit_concurrency=64,
    )
    uvicorn.Server(config).run()
