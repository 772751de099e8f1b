"""The shared typer application and helpers every command module uses."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console

app = typer.Typer(
    name="fimiscope",
    help="Find coordinated, foreign information manipulation in social-media activity, "
    "with the evidence for every finding.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console_err = Console(stderr=True)
DEFAULT_STORE = "fimiscope.duckdb"

StoreOpt = Annotated[
    Path,
    typer.Option(
        "--store",
        "-s",
        envvar="FIMISCOPE_STORE",
        help="The DuckDB store file (env FIMISCOPE_STORE).",
        show_default=True,
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON on stdout.")]
MemoryOpt = Annotated[
    str | None,
    typer.Option(
        "--memory-limit",
        envvar="FIMISCOPE_MEMORY_LIMIT",
        help="DuckDB memory limit, e.g. 2GB (it spills to disk beyond it).",
    ),
]


def open_store(path: Path, *, read_only: bool = False, memory_limit: str | None = None) -> Any:
    from fimiscope.errors import StoreError
    from fimiscope.store import Store

    if read_only and not path.exists():
        raise StoreError(f"{path}: no such store; create one with `fimiscope ingest`")
    return Store(path, read_only=read_only, memory_limit=memory_limit)


def print_json(value: Any) -> None:
    typer.echo(orjson.dumps(value, default=str, option=orjson.OPT_INDENT_2).decode())


def error_line(exc: BaseException | str) -> None:
    """One line on stderr, never wrapped: what went wrong and where."""
    text = " ".join(str(exc).split())
    print(f"fimiscope: error: {text}", file=sys.stderr, flush=True)


def progress_enabled() -> bool:
    return console_err.is_terminal and not os.environ.get("FIMISCOPE_NO_PROGRESS")
