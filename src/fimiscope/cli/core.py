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
    out: Annotated[Path, typer.Option("--out", "-o", help="Output file (folder: research).")],
    table: Annotated[
        str | None,
        typer.Argument(help="Table to export (parquet/csv; see `fimiscope info`)."),
    ] = None,
    store: StoreOpt = Path(DEFAULT_STORE),
    format: Annotated[
        str,
        typer.Option(
            "--format",
            "-f",
            help="parquet or csv (a table); stix (STIX 2.1 bundle with DISARM); notice (a "
            "platform notice, JSON or CSV by the --out suffix); research (pseudonymised "
            "Parquet + GEXF of a detect run into the --out folder).",
        ),
    ] = "parquet",
    platform: Annotated[
        str | None, typer.Option(help="Platform of a notice, e.g. x or bluesky.")
    ] = None,
    run: Annotated[
        str | None, typer.Option("--run", help="Detect run (default: the latest).")
    ] = None,
    include: Annotated[
        str,
        typer.Option(help="confirmed (default: analyst-confirmed findings only) or all (a draft)."),
    ] = "confirmed",
    tlp: Annotated[str, typer.Option(help="TLP marking of a STIX bundle.")] = "amber",
    public_accounts: Annotated[
        Path | None,
        typer.Option(help="File of public-interest accounts that stay named (platform:handle)."),
    ] = None,
    disarm_mapping: Annotated[
        Path | None,
        typer.Option(help="JSON overrides of the DISARM mapping rules {rule: [technique ids]}."),
    ] = None,
    actor: Annotated[
        str | None, typer.Option(envvar="FIMISCOPE_ACTOR", help="Who exports (audit log).")
    ] = None,
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
    """Export a table (Parquet/CSV), a STIX 2.1 bundle, a platform notice or research files.

    Account identifiers are pseudonymised unless --raw. CSV cells that a spreadsheet would run
    as formulas are neutralised with a leading apostrophe. Every export is written to the
    store's audit log.
    """
    from fimiscope.errors import ConfigError

    if format in ("stix", "notice", "research"):
        from fimiscope import report

        with open_store(store) as st:
            if format == "stix":
                paths = [
                    report.write_stix(
                        st, out, run_id=run, include=include, tlp=tlp, pseudonymise=not raw,
                        key_path=key_file, actor=actor, public_accounts=public_accounts,
                        mapping=disarm_mapping,
                    )
                ]  # fmt: skip
            elif format == "notice":
                if not platform:
                    raise ConfigError("--platform", "export --format notice", "a platform", None)
                paths = [
                    report.write_notice(
                        st, out, platform=platform,
                        fmt="csv" if out.suffix.lower() == ".csv" else "json", run_id=run,
                        include=include, pseudonymise=not raw, key_path=key_file, actor=actor,
                        public_accounts=public_accounts,
                    )
                ]  # fmt: skip
            else:
                if raw:
                    raise ConfigError("--raw", "export --format research", "not given", True)
                paths = report.write_research(st, out, run_id=run, key_path=key_file, actor=actor)
        result = {"format": format, "out": [str(p) for p in paths], "pseudonymised": not raw}
        if json:
            print_json(result)
        else:
            for p in paths:
                typer.echo(f"wrote {p}" + ("" if raw else " (account identifiers pseudonymised)"))
        return
    if table is None:
        raise ConfigError("TABLE", "export", f"a table name with --format {format}", None)
    from fimiscope.report.pseudonymise import Pseudonymiser, export_table
    from fimiscope.review import audit, default_actor

    with open_store(store) as st:
        pseudo = None if raw else Pseudonymiser.from_key_file(key_file)
        n = export_table(st, table, out, fmt=format, pseudonymiser=pseudo)
        audit(
            st,
            actor=actor or default_actor(),
            action="export",
            detail={"what": f"table-{format}", "table": table, "where": [str(out.resolve())],
                    "run_ids": [], "raw_identifiers": raw, "rows": n},
        )  # fmt: skip
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
