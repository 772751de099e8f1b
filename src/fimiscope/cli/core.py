"""Core commands: ingest, info, formats, export, simulate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from fimiscope.cli._app import (
    DEFAULT_STORE,
    JsonOpt,
    MemoryOpt,
    StoreOpt,
    app,
    console_err,
    error_line,
    open_store,
    print_json,
    progress_enabled,
)


@app.command()
def ingest(
    paths: Annotated[list[str], typer.Argument(help="Files, folders or globs.")],
    store: StoreOpt = Path(DEFAULT_STORE),
    format: Annotated[
        str | None,
        typer.Option(
            "--format",
            "-f",
            help="Format name (see `fimiscope formats`); sniffed from content when omitted.",
        ),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option(help="YAML column mapping for the `generic` CSV/Parquet format.")
    ] = None,
    timezone: Annotated[
        str | None,
        typer.Option(help="Time zone of times without an offset (LINE, generic), e.g. Asia/Tokyo."),
    ] = None,
    memory_limit: MemoryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Ingest platform exports into the store (one transaction per file; re-ingest is a no-op)."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from fimiscope.errors import IngestError
    from fimiscope.ingest import ingest as run_ingest

    options: dict[str, Any] = {}
    if mapping is not None:
        options["mapping"] = str(mapping)
    if timezone is not None:
        options["timezone"] = timezone
    errors: list[str] = []

    def on_error(exc: IngestError) -> None:
        errors.append(str(exc))
        error_line(exc)

    with open_store(store, memory_limit=memory_limit) as st:
        if progress_enabled():
            with Progress(
                SpinnerColumn(),
                TextColumn("{task.description}"),
                TextColumn("{task.completed:,} records"),
                TimeElapsedColumn(),
                console=console_err,
                transient=True,
            ) as bar:
                tasks: dict[Path, Any] = {}

                def progress(path: Path, records: int) -> None:
                    if path not in tasks:
                        tasks[path] = bar.add_task(path.name, total=None)
                    bar.update(tasks[path], completed=records)

                infos = run_ingest(
                    st, paths, format=format, options=options, progress=progress, on_error=on_error
                )
        else:
            infos = run_ingest(st, paths, format=format, options=options, on_error=on_error)
    if json:
        print_json({"files": [i.as_dict() for i in infos], "errors": errors})
    else:
        for i in infos:
            state = (
                "already ingested"
                if i.skipped
                else (
                    f"{i.posts:,} posts, {i.accounts:,} accounts, {i.engagements:,} engagements, "
                    f"{i.rejected:,} rejected"
                )
            )
            typer.echo(f"{i.path}\t{i.format}\t{state}\t{i.seconds:.1f}s")
    if errors:
        raise typer.Exit(code=2)


@app.command()
def info(store: StoreOpt = Path(DEFAULT_STORE), json: JsonOpt = False) -> None:
    """What the store holds: tables, platforms, time span, sources and runs."""
    with open_store(store, read_only=True) as st:
        data = st.info()
    if json:
        print_json(data)
        return
    typer.echo(f"store: {data['path']} (schema version {data['schema_version']})")
    typer.echo(f"posts: {data['first_post_at']} .. {data['last_post_at']}")
    for platform, n in data["posts_by_platform"].items():
        typer.echo(f"  {platform}: {n:,} posts")
    for table, n in data["counts"].items():
        typer.echo(f"{table:>16}  {n:,}")
    typer.echo(f"{len(data['sources'])} sources")


@app.command()
def formats(json: JsonOpt = False) -> None:
    """List the input formats fimiscope can read."""
    from fimiscope.ingest import formats as all_formats

    rows = [
        {"name": f.name, "platform": f.platform, "description": f.description}
        for f in all_formats().values()
    ]
    if json:
        print_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['name']:<12} {r['platform']:<10} {r['description']}")


@app.command()
def export(
    table: Annotated[str, typer.Argument(help="Table to export (see `fimiscope info`).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file.")],
    store: StoreOpt = Path(DEFAULT_STORE),
    format: Annotated[str, typer.Option("--format", "-f", help="parquet or csv.")] = "parquet",
    raw: Annotated[
        bool,
        typer.Option(
            "--raw", help="Keep account identifiers as they are (default: keyed pseudonyms)."
        ),
    ] = False,
    key_file: Annotated[
        Path | None,
        typer.Option(
            envvar="FIMISCOPE_PSEUDONYM_KEY_FILE",
            help="Pseudonymisation key file (default: ~/.config/fimiscope/pseudonym.key, "
            "created on first use; never stored in the store or an export).",
        ),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Export a table to Parquet or CSV. Account identifiers are pseudonymised unless --raw.

    CSV cells that a spreadsheet would run as formulas are neutralised with a leading apostrophe.
    """
    from fimiscope.report.pseudonymise import Pseudonymiser, export_table

    with open_store(store, read_only=True) as st:
        pseudo = None if raw else Pseudonymiser.from_key_file(key_file)
        n = export_table(st, table, out, fmt=format, pseudonymiser=pseudo)
    result = {"table": table, "rows": n, "out": str(out), "pseudonymised": not raw}
    if json:
        print_json(result)
    else:
        typer.echo(
            f"{n:,} rows of {table} -> {out}"
            + ("" if raw else " (account identifiers pseudonymised)")
        )


@app.command()
def simulate(
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the scenario files.")],
    actions: Annotated[int, typer.Option(help="Approximate number of actions.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same bytes).")] = 7,
    bluesky_share: Annotated[
        float, typer.Option(help="Share of actions on Bluesky (Jetstream file).")
    ] = 0.15,
    json: JsonOpt = False,
) -> None:
    """Write the Japan 2025 upper-house election scenario in real export formats, with truth."""
    from dataclasses import asdict

    from fimiscope.simulate import generate_scenario

    files = generate_scenario(out, actions=actions, seed=seed, bluesky_share=bluesky_share)
    data = {k: str(v) for k, v in asdict(files).items()}
    if json:
        print_json(data)
    else:
        for k, v in data.items():
            typer.echo(f"{k}\t{v}")
