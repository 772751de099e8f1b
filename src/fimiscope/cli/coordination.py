"""`fimiscope detect`: coordinated groups, with their evidence."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from fimiscope.cli._app import (
    DEFAULT_STORE,
    JsonOpt,
    MemoryOpt,
    StoreOpt,
    app,
    open_store,
    print_json,
)


def _csv(value: str | None) -> tuple[str, ...] | None:
    return tuple(v.strip() for v in value.split(",") if v.strip()) if value else None


@app.command()
def detect(
    store: StoreOpt = Path(DEFAULT_STORE),
    traces: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated traces (default: repost,like,quote,reply,link,hashtag_seq,"
            "text_near); `fimiscope detect --list-traces` lists them all."
        ),
    ] = None,
    list_traces: Annotated[
        bool, typer.Option("--list-traces", help="List traces and exit.")
    ] = False,
    window: Annotated[
        float | None,
        typer.Option(
            help="Co-action window in seconds (default: estimated from the data, as CooRnet)."
        ),
    ] = None,
    fast_window: Annotated[
        float | None,
        typer.Option(help="Narrower window for the 'fast' edge flag (default: window / 4)."),
    ] = None,
    min_activity: Annotated[int, typer.Option(help="Minimum distinct targets per account.")] = 3,
    min_repetitions: Annotated[
        int, typer.Option(help="Minimum distinct co-action targets per pair.")
    ] = 3,
    expected_false_edges: Annotated[
        float, typer.Option(help="Expected number of chance edges allowed over all tested pairs.")
    ] = 1.0,
    resolution: Annotated[float, typer.Option(help="Leiden resolution.")] = 1.0,
    seed: Annotated[int, typer.Option(help="Random seed (Leiden).")] = 0,
    min_group_size: Annotated[int, typer.Option(help="Smallest group reported.")] = 3,
    partitions: Annotated[
        int | None,
        typer.Option(help="Slices of the pair step (default: chosen from the data's size)."),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"],
            help="Only actions at or after this time (UTC unless an offset is given).",
        ),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S%z"],
            help="Only actions before this time (UTC unless an offset is given).",
        ),
    ] = None,
    engine: Annotated[
        str,
        typer.Option(
            help="duckdb, or spark: the pair step on PySpark (local mode unless a Spark "
            "session is configured; see docs/scale.md)."
        ),
    ] = "duckdb",
    media_dir: Annotated[
        Path | None,
        typer.Option(
            help="Folder of the posts' image files: adds co-media by perceptual hash "
            "(needs the 'media' extra)."
        ),
    ] = None,
    export: Annotated[
        Path | None,
        typer.Option(help="Also write the run to this folder (GEXF, GraphML, Parquet, CSV)."),
    ] = None,
    export_formats: Annotated[
        str, typer.Option("--format", help="Export formats, comma-separated.")
    ] = "gexf,graphml,parquet,csv",
    raw: Annotated[
        bool,
        typer.Option(
            "--raw", help="Export account identifiers as they are (default: keyed pseudonyms)."
        ),
    ] = False,
    key_file: Annotated[
        Path | None,
        typer.Option(envvar="FIMISCOPE_PSEUDONYM_KEY_FILE", help="Pseudonymisation key file."),
    ] = None,
    memory_limit: MemoryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Find groups of accounts that act together more than chance allows."""
    from fimiscope.coordination import detect as run_detect
    from fimiscope.coordination import traces as all_traces

    if list_traces:
        for name, trace in all_traces().items():
            typer.echo(f"{name:<14} {trace.description}")
        return
    kwargs = {}
    if traces:
        kwargs["traces"] = _csv(traces)
    with open_store(store, memory_limit=memory_limit) as st:
        result = run_detect(
            st,
            window=window,
            fast_window=fast_window,
            min_activity=min_activity,
            min_repetitions=min_repetitions,
            expected_false_edges=expected_false_edges,
            resolution=resolution,
            seed=seed,
            min_group_size=min_group_size,
            partitions=partitions,
            engine=engine,
            since=since,
            until=until,
            media_dir=media_dir,
            **kwargs,
        )
        files: list[str] = []
        if export is not None:
            from fimiscope.coordination.export import export_run
            from fimiscope.report.pseudonymise import Pseudonymiser

            pseudo = None if raw else Pseudonymiser.from_key_file(key_file)
            files = [
                str(p)
                for p in export_run(
                    st, result.run_id, export, _csv(export_formats) or (), pseudonymiser=pseudo
                )
            ]
    if json:
        print_json({**result.as_dict(), "exported": files})
        return
    typer.echo(
        f"run {result.run_id}: window {result.window:g}s"
        f"{' (estimated)' if result.window_estimated else ''}, "
        f"{result.edges:,} significant edges of {result.candidate_pairs:,} candidate pairs "
        f"(per-edge p <= {result.alpha:.2g} over {result.tested_pairs:,.0f} tested pairs), "
        f"{len(result.groups)} groups"
    )
    for g in result.groups:
        typer.echo(
            f"\ngroup {g.group_id} [{g.platform}] {g.size} accounts, "
            f"density {g.density:.2f}, traces {', '.join(g.traces)}"
        )
        if g.summary:
            typer.echo(f"  {g.summary}")
    for f in files:
        typer.echo(f"wrote {f}")
