"""`fimiscope characterize` and `fimiscope train-bot-model`."""

from __future__ import annotations

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


@app.command()
def characterize(
    store: StoreOpt = Path(DEFAULT_STORE),
    coordination_run: Annotated[
        str | None,
        typer.Option(help="The detect run whose groups to characterise (default: the latest)."),
    ] = None,
    model: Annotated[
        Path | None,
        typer.Option(
            help="A bot model from `fimiscope train-bot-model` (default: the documented heuristic)."
        ),
    ] = None,
    state_media: Annotated[
        list[Path] | None,
        typer.Option(
            help="Extra state-affiliated media CSV (repeatable), added to the shipped registry."
        ),
    ] = None,
    threshold: Annotated[float, typer.Option(help="Automation score that flags an account.")] = 0.5,
    audience_language: Annotated[
        str,
        typer.Option(
            help="Language of the audience (groups posting in it with a foreign clock are noted)."
        ),
    ] = "ja",
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples for time-zone intervals.")
    ] = 200,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    figures: Annotated[
        Path | None, typer.Option(help="Write the activity clocks (SVG) to this folder.")
    ] = None,
    memory_limit: MemoryOpt = None,
    json: JsonOpt = False,
) -> None:
    """Automation signals, activity time zones, state-media amplification, boosted posts."""
    from dataclasses import asdict

    from fimiscope.characterize import characterize as run

    with open_store(store, memory_limit=memory_limit) as st:
        res = run(
            st,
            coordination_run=coordination_run,
            model=model,
            state_media=list(state_media or ()),
            automation_threshold=threshold,
            audience_language=audience_language,
            bootstrap=bootstrap,
            seed=seed,
        )
        written = []
        if figures is not None:
            figures.mkdir(parents=True, exist_ok=True)
            for name, mime, content in st.sql(
                "SELECT name, mime, content FROM characterize_figures WHERE run_id = ? "
                "ORDER BY name",
                [res.run_id],
            ):
                suffix = ".svg" if mime == "image/svg+xml" else ".png"
                path = figures / (Path(name).name + suffix)  # names come from our code, not posts
                path.write_bytes(content)
                written.append(str(path))
    if json:
        data = asdict(res)
        for tz in data["group_timezones"].values():
            tz.pop("hour_of_week", None)
            tz.pop("profile", None)
        print_json({**data, "figures": written})
        return
    typer.echo(
        f"run {res.run_id} (coordination run {res.coordination_run}): "
        f"{res.flagged_accounts:,} of {res.accounts:,} accounts flagged as likely automated "
        f"({res.automation_method}); {res.amplifier_accounts:,} accounts amplify "
        f"state-controlled outlets; {len(res.flagged_posts):,} of {res.posts_examined:,} "
        "posts show a boost inconsistent with organic spread"
    )
    for gid, tz in sorted(res.group_timezones.items()):
        typer.echo(
            f"  group {gid}: activity clock fits UTC{tz['offset_hours']:+d} "
            f"[{tz['ci_low']:+d}, {tz['ci_high']:+d}] ({tz['template']} rhythm, "
            f"{tz['n_actions']:,} actions)"
            + (
                "; posts in the audience's language on a foreign working day"
                if tz["foreign_working_day"]
                else ""
            )
        )
    for f in written:
        typer.echo(f"wrote {f}")


@app.command("train-bot-model")
def train_bot_model(
    labels: Annotated[
        Path,
        typer.Option(help="CSV with columns platform,account_id,label (label: bot/human or 1/0)."),
    ],
    out: Annotated[Path, typer.Option(help="Where to save the fitted model.")],
    store: StoreOpt = Path(DEFAULT_STORE),
    estimator: Annotated[str, typer.Option(help="logistic or gbm.")] = "logistic",
    folds: Annotated[int, typer.Option(help="Cross-validation folds.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    coordination_run: Annotated[
        str | None, typer.Option(help="Detect run for group-based features (default: the latest).")
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Fit a bot model on labelled accounts, with cross-validated ROC AUC and precision/recall."""
    from fimiscope.characterize import train_bot_model as run

    with open_store(store) as st:
        res = run(
            st,
            labels,
            out,
            estimator=estimator,
            folds=folds,
            seed=seed,
            coordination_run=coordination_run,
        )
    if json:
        print_json(
            {"path": str(res.path), "cv": res.cv, "missing": res.missing, "run_id": res.run_id}
        )
        return
    typer.echo(f"model saved to {res.path} (run {res.run_id})")
    for k, v in res.cv.items():
        typer.echo(f"  {k}: {v:.3f}" if isinstance(v, float) else f"  {k}: {v}")
    if res.missing:
        typer.echo(f"  {res.missing} labelled accounts were not found in the store")
