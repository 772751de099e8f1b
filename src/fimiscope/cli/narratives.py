"""`fimiscope narratives ...` and `fimiscope claims ...`: narratives, trends, fact-checked claims.

Account ids in the output are keyed pseudonyms unless ``--raw`` is given (news outlets, the
accounts of the platform ``news``, are organisations and stay as they are).
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from fimiscope.cli._app import (
    DEFAULT_STORE,
    JsonOpt,
    StoreOpt,
    app,
    open_store,
    print_json,
)

narratives_app = typer.Typer(
    help="Narratives (clusters of posts), their trends and provenance.", no_args_is_help=True
)
claims_app = typer.Typer(
    help="Fact-checked claims: load ClaimReview/CSV, match posts, report spread.",
    no_args_is_help=True,
)
app.add_typer(narratives_app, name="narratives")
app.add_typer(claims_app, name="claims")

SinceOpt = Annotated[
    datetime | None, typer.Option(help="Only posts from this time (UTC unless an offset is given).")
]
UntilOpt = Annotated[datetime | None, typer.Option(help="Only posts before this time.")]
RunOpt = Annotated[str | None, typer.Option("--run", help="Run id (default: the latest).")]
LimitOpt = Annotated[int, typer.Option(help="Rows to show.")]
RawOpt = Annotated[
    bool, typer.Option("--raw", help="Show account ids as they are (default: keyed pseudonyms).")
]
KeyOpt = Annotated[
    Path | None,
    typer.Option(envvar="FIMISCOPE_PSEUDONYM_KEY_FILE", help="Pseudonymisation key file."),
]


def _utc(value: datetime | None) -> datetime | None:
    from datetime import UTC

    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def _say(msg: str) -> None:
    print(f"[fimiscope] {msg}", file=sys.stderr, flush=True)


def _pseudonymise(value: Any, raw: bool, key_file: Path | None) -> Any:
    """Replace ``account_id`` values (and ``reposts_post_id`` authors' ids) recursively."""
    if raw:
        return value
    from fimiscope.report.pseudonymise import Pseudonymiser

    p = Pseudonymiser.from_key_file(key_file)

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            plat = v.get("platform")
            return {
                k: (
                    p.token(plat, "account", x)
                    if k == "account_id" and plat != "news" and isinstance(x, str)
                    else walk(x)
                )
                for k, x in v.items()
            }
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(value)


def _share(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.0f}%"


@narratives_app.command("run")
def narratives_run(
    store: StoreOpt = Path(DEFAULT_STORE),
    since: SinceOpt = None,
    until: UntilOpt = None,
    cross_lingual: Annotated[
        bool,
        typer.Option(
            help="Merge narratives across languages with the packaged multilingual encoder."
        ),
    ] = True,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    trends: Annotated[bool, typer.Option(help="Also detect trends afterwards.")] = True,
    json: JsonOpt = False,
) -> None:
    """Group posts into narratives (and detect their trends)."""
    from fimiscope.narratives import detect_trends, run_narratives

    with open_store(store) as s:
        _say("embedding distinct texts, clustering, labelling")
        result = run_narratives(
            s, since=_utc(since), until=_utc(until), cross_lingual=cross_lingual, seed=seed
        )
        out: dict[str, Any] = result.as_dict()
        if trends:
            _say("detecting bursts of narratives and hashtags")
            tr = detect_trends(s, _utc(since), _utc(until), narratives_run=result.run_id)
            out["trends"] = {"run_id": tr.run_id, "flags": len(tr.flags)}
    if json:
        print_json(out)
        return
    typer.echo(
        f"run {out['run_id']}: {out['narratives']} narratives from {out['posts']:,} posts "
        f"({out['texts']:,} distinct texts)"
    )
    if "trends" in out:
        typer.echo(f"trends run {out['trends']['run_id']}: {out['trends']['flags']} bursts")


@narratives_app.command("list")
def narratives_list(
    store: StoreOpt = Path(DEFAULT_STORE),
    run: RunOpt = None,
    limit: LimitOpt = 50,
    offset: Annotated[int, typer.Option(help="Rows to skip.")] = 0,
    json: JsonOpt = False,
) -> None:
    """Narratives of a run, largest first."""
    from fimiscope.narratives import list_narratives

    with open_store(store, read_only=True) as s:
        rows = list_narratives(s, run, limit=limit, offset=offset)
    if json:
        print_json(rows)
        return
    typer.echo("  id  posts reposts  langs            coord  auto  state  label")
    for r in rows:
        langs = ",".join(list((r["languages"] or {}).keys())[:3])
        typer.echo(
            f"{r['narrative_id']:4d} {r['n_posts'] or 0:6d} {r['n_reposts'] or 0:7d}  "
            f"{langs:15s} {_share(r['coordinated_share']):>6} {_share(r['automated_share']):>5} "
            f"{_share(r['state_media_share']):>6}  {r['label']}"
        )


@narratives_app.command("show")
def narratives_show(
    narrative_id: Annotated[int, typer.Argument(help="Narrative id.")],
    store: StoreOpt = Path(DEFAULT_STORE),
    run: RunOpt = None,
    raw: RawOpt = False,
    key_file: KeyOpt = None,
    json: JsonOpt = False,
) -> None:
    """One narrative: keywords, representative posts, volume, shares, claims, provenance."""
    from fimiscope.narratives import get_narrative

    with open_store(store, read_only=True) as s:
        n = _pseudonymise(get_narrative(s, narrative_id, run), raw, key_file)
    if json:
        print_json(n)
        return
    typer.echo(f"narrative {n['narrative_id']} ({n['run_id']}): {n['label']}")
    typer.echo(
        f"  {n['n_posts']} posts, {n['n_reposts']} reposts, {n['n_accounts']} accounts, "
        f"{n['first_at']} .. {n['last_at']}; peak hour {n['peak_at']}"
    )
    typer.echo(f"  languages {n['languages']}; platforms {n['platforms']}")
    typer.echo(
        f"  shares: coordinated {_share(n['coordinated_share'])}, automated "
        f"{_share(n['automated_share'])}, state media {_share(n['state_media_share'])}"
    )
    typer.echo("  keywords: " + ", ".join(k for k, _ in n["keywords"]))
    for r in n["representatives"]:
        typer.echo(
            f"  - [{r['platform']}] {' '.join((r['text'] or '').split())[:100]} "
            f"(spread {r['spread']})"
        )
    for t in n["trends"]:
        typer.echo(
            f"  burst flagged {t['flagged_at']}: {t['count']} in the window vs "
            f"{t['expected']} expected"
        )
    for c in n["claims"]:
        typer.echo(f"  claim [{c['verdict']}] {c['text']}: {c['posts']} posts")
    path = n["provenance"]["outlet_path"]
    if path:
        a = path["article"]
        typer.echo(f"  origin: {a['account_id']} {a['created_at']} {a['url']}")
        for p in path["first_japanese_posts"][:3]:
            typer.echo(
                f"    -> +{p['delay_s'] / 3600:.1f} h [{p['platform']}] "
                f"{' '.join((p['text'] or '').split())[:80]}"
            )


@narratives_app.command("trends")
def narratives_trends(
    store: StoreOpt = Path(DEFAULT_STORE),
    since: SinceOpt = None,
    until: UntilOpt = None,
    window: Annotated[int, typer.Option(help="Window in seconds.")] = 3600,
    step: Annotated[int, typer.Option(help="Step between windows in seconds.")] = 600,
    min_count: Annotated[int, typer.Option(help="Least posts + reposts in a window.")] = 8,
    detect: Annotated[
        bool, typer.Option(help="Run detection (else: list the latest trends run).")
    ] = True,
    limit: LimitOpt = 50,
    json: JsonOpt = False,
) -> None:
    """Detect (or list) narratives and hashtags bursting against their own baseline."""
    from fimiscope.narratives import detect_trends, list_trends

    with open_store(store, read_only=not detect) as s:
        run = None
        if detect:
            run = detect_trends(
                s, _utc(since), _utc(until), window=window, step=step, min_count=min_count
            ).run_id
        rows = list_trends(s, run, limit=limit)
    if json:
        print_json(rows)
        return
    for r in rows:
        typer.echo(
            f"{r['flagged_at']}  {r['kind']:9s} {r['count']:5d} vs {r['expected']:7.2f}  "
            f"+{(r['delay_s'] or 0) / 3600:6.1f} h after first seen  {r['label']}"
        )


@claims_app.command("load")
def claims_load(
    paths: Annotated[list[Path], typer.Argument(help="ClaimReview JSON-LD/HTML or claims CSV.")],
    store: StoreOpt = Path(DEFAULT_STORE),
    json: JsonOpt = False,
) -> None:
    """Load fact-checked claims."""
    from fimiscope.narratives import load_claims

    with open_store(store) as s:
        out = [load_claims(s, p) for p in paths]
    if json:
        print_json(out)
        return
    for r in out:
        typer.echo(
            f"{r['path']}: {r['loaded']} claims ({r['false_claims']} known false), "
            f"{len(r['rejected'])} unreadable"
        )
        for rej in r["rejected"]:
            typer.echo(f"  unreadable {rej['where']}: {rej['reason']}", err=True)


@claims_app.command("list")
def claims_list(
    store: StoreOpt = Path(DEFAULT_STORE), limit: LimitOpt = 50, json: JsonOpt = False
) -> None:
    """Loaded claims, known-false first."""
    from fimiscope.narratives import list_claims

    with open_store(store, read_only=True) as s:
        rows = list_claims(s, limit=limit)
    if json:
        print_json(rows)
        return
    for r in rows:
        typer.echo(f"{r['claim_id']}  {r['verdict']:10s} {r['rating_text'] or '':8s} {r['text']}")


@claims_app.command("match")
def claims_match(
    store: StoreOpt = Path(DEFAULT_STORE),
    since: SinceOpt = None,
    until: UntilOpt = None,
    threshold: Annotated[
        float | None,
        typer.Option(help="Least cosine similarity, post and claim in one script (default 0.6)."),
    ] = None,
    cross_lingual_threshold: Annotated[
        float | None,
        typer.Option(help="Least cosine similarity across scripts (default 0.5)."),
    ] = None,
    scope: Annotated[str, typer.Option(help="auto, all or narratives.")] = "auto",
    json: JsonOpt = False,
) -> None:
    """Match posts to the loaded claims (cross-lingual)."""
    from fimiscope.narratives import (
        DEFAULT_CROSS_LINGUAL_THRESHOLD,
        DEFAULT_THRESHOLD,
        match_claims,
    )

    with open_store(store) as s:
        _say("embedding claims and distinct post texts")
        r = match_claims(
            s,
            _utc(since),
            _utc(until),
            threshold=DEFAULT_THRESHOLD if threshold is None else threshold,
            cross_lingual_threshold=DEFAULT_CROSS_LINGUAL_THRESHOLD
            if cross_lingual_threshold is None
            else cross_lingual_threshold,
            scope=scope,
        )
    if json:
        print_json(r.as_dict())
        return
    typer.echo(f"run {r.run_id}: {r.matches} matching posts ({r.texts_embedded:,} texts embedded)")
    for cid, n in r.per_claim.items():
        typer.echo(f"  {cid}: {n}")


@claims_app.command("matches")
def claims_matches(
    store: StoreOpt = Path(DEFAULT_STORE),
    claim: Annotated[str | None, typer.Option(help="Only this claim id.")] = None,
    post: Annotated[str | None, typer.Option(help="Only this post id.")] = None,
    run: RunOpt = None,
    limit: LimitOpt = 50,
    offset: Annotated[int, typer.Option(help="Rows to skip.")] = 0,
    raw: RawOpt = False,
    key_file: KeyOpt = None,
    json: JsonOpt = False,
) -> None:
    """Posts matched to claims, best score first."""
    from fimiscope.narratives import list_claim_matches

    with open_store(store, read_only=True) as s:
        rows = list_claim_matches(s, claim, post, limit=limit, offset=offset, run_id=run)
    rows = _pseudonymise(rows, raw, key_file)
    if json:
        print_json(rows)
        return
    for r in rows:
        typer.echo(
            f"{r['score']:.3f} {r['created_at']} [{r['platform']}:{r['lang']}] "
            f"{' '.join((r['post_text'] or '').split())[:90]}"
        )


@claims_app.command("spread")
def claims_spread(
    store: StoreOpt = Path(DEFAULT_STORE),
    claim: Annotated[str | None, typer.Option(help="Only this claim id.")] = None,
    all_claims: Annotated[
        bool, typer.Option("--all", help="Every matched claim, not only known-false ones.")
    ] = False,
    run: RunOpt = None,
    raw: RawOpt = False,
    key_file: KeyOpt = None,
    json: JsonOpt = False,
) -> None:
    """Which known-false claims are spreading: where, how fast, by whom."""
    from fimiscope.narratives import claim_spread

    with open_store(store, read_only=True) as s:
        rows = claim_spread(s, claim, run_id=run, only_false=not all_claims)
    rows = _pseudonymise(rows, raw, key_file)
    if json:
        print_json(rows)
        return
    for r in rows:
        typer.echo(f"[{r['verdict']}] {r['text']}")
        typer.echo(
            f"  {r['posts']} posts + {r['reposts']} reposts by {r['accounts']} accounts, "
            f"{r['first_at']} .. {r['last_at']}; 10 in {r['hours_to_10']} h, 100 in "
            f"{r['hours_to_100']} h; peak {r['peak_hour_count']}/h at {r['peak_hour']}"
        )
        typer.echo(
            f"  platforms {r['by_platform']}; languages {r['by_language']}; coordinated "
            f"{_share(r['coordinated_share'])}, automated {_share(r['automated_share'])}"
        )
        for a in r["first_appearances"][:3]:
            typer.echo(
                f"  first seen ({a['found_by']}) {a['created_at']} {a['platform']}:"
                f"{a['account_id']} [{a['lang']}] {a['url'] or ''}"
            )
        for a in r["top_accounts"][:5]:
            typer.echo(
                f"  - {a['platform']}:{a['account_id']} {a['posts']} posts, {a['reposts']} reposts"
            )
