"""`fimiscope report` and `fimiscope review ...`: the investigation report and the review trail."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from fimiscope.cli._app import DEFAULT_STORE, JsonOpt, StoreOpt, app, open_store, print_json

review_app = typer.Typer(
    help="Confirm, dismiss or annotate findings; list the review trail and the audit log.",
    no_args_is_help=True,
)
app.add_typer(review_app, name="review")

KeyOpt = Annotated[
    Path | None,
    typer.Option(envvar="FIMISCOPE_PSEUDONYM_KEY_FILE", help="Pseudonymisation key file."),
]
ActorOpt = Annotated[
    str | None, typer.Option(envvar="FIMISCOPE_ACTOR", help="Who exports (audit log).")
]
KindArg = Annotated[str, typer.Argument(help="group, account or post.")]
IdArg = Annotated[str, typer.Argument(help="Group number, account id or post id.")]
ReasonOpt = Annotated[str, typer.Option("--reason", "-r", help="Why (required).")]
AnalystOpt = Annotated[
    str, typer.Option("--analyst", "-a", envvar="FIMISCOPE_ACTOR", help="Who decides.")
]
RunOpt = Annotated[
    str | None,
    typer.Option("--run", help="Detect run of a group (default for groups: the latest)."),
]
PlatformOpt = Annotated[str | None, typer.Option(help="Platform of an account or post.")]


@app.command()
def report(
    out: Annotated[Path, typer.Option("--out", "-o", help="The HTML file to write.")],
    store: StoreOpt = Path(DEFAULT_STORE),
    run: RunOpt = None,
    include: Annotated[
        str, typer.Option(help="confirmed (default) or all (a draft, clearly marked).")
    ] = "confirmed",
    raw: Annotated[
        bool, typer.Option("--raw", help="Show raw account identifiers (default: pseudonyms).")
    ] = False,
    key_file: KeyOpt = None,
    public_accounts: Annotated[
        Path | None,
        typer.Option(help="File of public-interest accounts that stay named (platform:handle)."),
    ] = None,
    disarm_mapping: Annotated[
        Path | None,
        typer.Option(help="JSON overrides of the DISARM mapping rules {rule: [technique ids]}."),
    ] = None,
    title: Annotated[str | None, typer.Option(help="Report title.")] = None,
    actor: ActorOpt = None,
    json: JsonOpt = False,
) -> None:
    """Write the self-contained HTML investigation report (printable to PDF)."""
    from fimiscope.report import write_report

    with open_store(store) as st:
        path = write_report(
            st,
            out,
            run_id=run,
            include=include,
            pseudonymise=not raw,
            key_path=key_file,
            actor=actor,
            public_accounts=public_accounts,
            mapping=disarm_mapping,
            title=title,
        )
    if json:
        print_json({"out": str(path), "include": include, "pseudonymised": not raw})
    else:
        typer.echo(f"wrote {path} ({'confirmed findings' if include == 'confirmed' else 'DRAFT'})")


def _decide(
    decision: str,
    store: Path,
    kind: str,
    subject: str,
    reason: str,
    analyst: str,
    run: str | None,
    platform: str | None,
    json: bool,
    **extra: object,
) -> None:
    from fimiscope import review

    with open_store(store) as st:
        if kind == "group" and run is None:
            run = st.latest_run("detect")
        rid = review.record(
            st,
            subject_kind=kind,
            subject_id=subject,
            decision=decision,
            reason=reason,
            analyst=analyst,
            run_id=run,
            platform=platform,
            **extra,  # type: ignore[arg-type]
        )
        now = review.status(st, kind, subject, run_id=run if kind == "group" else None)
    if json:
        print_json({"review_id": rid, "status": now, "run_id": run})
    else:
        typer.echo(
            f"review {rid}: {decision} {kind} {subject}"
            + (f" (run {run})" if run else "")
            + f"; status now {now or 'unreviewed'}"
        )


@review_app.command()
def confirm(
    kind: KindArg,
    subject: IdArg,
    reason: ReasonOpt,
    analyst: AnalystOpt,
    store: StoreOpt = Path(DEFAULT_STORE),
    run: RunOpt = None,
    platform: PlatformOpt = None,
    json: JsonOpt = False,
) -> None:
    """Confirm a finding: it goes into reports by default."""
    _decide("confirm", store, kind, subject, reason, analyst, run, platform, json)


@review_app.command()
def dismiss(
    kind: KindArg,
    subject: IdArg,
    reason: ReasonOpt,
    analyst: AnalystOpt,
    store: StoreOpt = Path(DEFAULT_STORE),
    run: RunOpt = None,
    platform: PlatformOpt = None,
    json: JsonOpt = False,
) -> None:
    """Dismiss a finding (e.g. an innocent explanation holds)."""
    _decide("dismiss", store, kind, subject, reason, analyst, run, platform, json)


@review_app.command()
def annotate(
    kind: KindArg,
    subject: IdArg,
    reason: ReasonOpt,
    analyst: AnalystOpt,
    store: StoreOpt = Path(DEFAULT_STORE),
    run: RunOpt = None,
    platform: PlatformOpt = None,
    attribute: Annotated[
        str | None,
        typer.Option(help="Attribute the subject to this actor (named in STIX exports)."),
    ] = None,
    attribution_kind: Annotated[
        str | None, typer.Option(help="threat-actor or intrusion-set (default).")
    ] = None,
    technique: Annotated[
        list[str] | None,
        typer.Option("--technique", help="Add a DISARM technique id (repeatable)."),
    ] = None,
    json: JsonOpt = False,
) -> None:
    """Add a note, an attribution or DISARM techniques to a subject (status unchanged)."""
    _decide(
        "annotate",
        store,
        kind,
        subject,
        reason,
        analyst,
        run,
        platform,
        json,
        attribution=attribute,
        attribution_kind=attribution_kind,
        techniques=technique or None,
    )


@review_app.command("list")
def list_(
    store: StoreOpt = Path(DEFAULT_STORE),
    kind: Annotated[str | None, typer.Option(help="Only this kind.")] = None,
    subject: Annotated[str | None, typer.Option(help="Only this subject id.")] = None,
    run: Annotated[str | None, typer.Option("--run", help="Only this run.")] = None,
    audit: Annotated[bool, typer.Option("--audit", help="List the audit log instead.")] = False,
    limit: Annotated[int, typer.Option(help="At most this many rows.")] = 100,
    offset: Annotated[int, typer.Option(help="Skip this many rows.")] = 0,
    json: JsonOpt = False,
) -> None:
    """List decisions (newest first), or the audit log with --audit."""
    from fimiscope import review

    with open_store(store, read_only=True) as st:
        rows = (
            review.audit_log(st, limit=limit, offset=offset)
            if audit
            else review.history(
                st, subject_kind=kind, subject_id=subject, run_id=run, limit=limit, offset=offset
            )
        )
    if json:
        print_json(rows)
        return
    for r in rows:
        if audit:
            typer.echo(f"{r['audit_id']}\t{r['at']}\t{r['actor']}\t{r['action']}\t{r['detail']}")
        else:
            extra = f" [{r['attribution_kind']}: {r['attribution']}]" if r["attribution"] else ""
            typer.echo(
                f"{r['review_id']}\t{r['at']}\t{r['analyst']}\t{r['decision']}\t"
                f"{r['subject_kind']} {r['subject_id']}\t{r['run_id'] or ''}\t{r['reason']}{extra}"
            )
