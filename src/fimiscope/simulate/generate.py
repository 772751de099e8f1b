"""Orchestrate the scenario: populations, plans, two passes over the engine, writers, truth."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from fimiscope.simulate import vocab
from fimiscope.simulate.articles import make_articles
from fimiscope.simulate.behaviour import Engine
from fimiscope.simulate.claimreview import FACTCHECK_URL, write_claimreviews
from fimiscope.simulate.config import HOUR_MS, Plan, PlatformPlan, ScenarioConfig, make_plan
from fimiscope.simulate.events import FOLLOW, LIKE, QUOTE, REPLY, REPOST
from fimiscope.simulate.ids import iso_ms, snowflake
from fimiscope.simulate.jetstream import JetstreamWriter, post_uri
from fimiscope.simulate.population import Population, build_population
from fimiscope.simulate.render import PartsMaker
from fimiscope.simulate.rss import write_rss
from fimiscope.simulate.schedule import Scheduler
from fimiscope.simulate.text import TextMaker
from fimiscope.simulate.truth import TruthCollector, build_truth, write_truth
from fimiscope.simulate.x_likes import write_liking_users
from fimiscope.simulate.x_v2 import XWriter

GENERATOR_VERSION = "1"


def _rand(key: str) -> random.Random:
    """Seeded text randomness: simulation, not cryptography, so the stdlib generator is right."""
    return random.Random(key)  # noqa: S311


@dataclass(frozen=True)
class ScenarioFiles:
    """Paths of the files written by :func:`generate_scenario` and the number of actions."""

    x_v2: Path
    x_liking_users: Path
    jetstream: Path
    articles_rss: Path
    factchecks: Path
    ground_truth: Path
    actions_written: int


def _platform(
    plan: Plan, k: int, pp: PlatformPlan, articles: list[dict[str, object]]
) -> tuple[Population, Scheduler]:
    rng = np.random.default_rng([plan.seed, k, 1])
    pop = build_population(plan, pp, rng)
    sch = Scheduler(plan, pp, pop, rng, TextMaker(_rand(f"{plan.seed}:{k}:plan")), articles)
    sch.planned = sch.build()
    return pop, sch


def _counts(plan: Plan, pp: PlatformPlan, pop: Population, sch: Scheduler) -> np.ndarray:
    """First pass: final engagement counts per post (retweets, replies, likes, quotes)."""
    eng = Engine(plan, pp, pop, sch.planned, sch.next_key, plan.seed)
    acc: list[list[np.ndarray]] = [[], [], [], []]
    for ev in eng.batches():
        for j, kind in enumerate((REPOST, REPLY, LIKE, QUOTE)):
            acc[j].append(ev["target"][ev["kind"] == kind])
    n = eng.posts.n
    return np.stack([np.bincount(np.concatenate(a), minlength=n)[:n] for a in acc], axis=1).astype(
        np.int32
    )


def generate_scenario(
    out_dir: Path,
    *,
    actions: int = 200_000,
    seed: int = 7,
    bluesky_share: float = 0.15,
    config: ScenarioConfig | None = None,
) -> ScenarioFiles:
    """Generate the election scenario into ``out_dir``.

    Parameters
    ----------
    out_dir
        Directory to write into (created if missing).
    actions
        Approximate total of posts, reposts, quotes, replies and likes (within about 5 %).
    seed
        Random seed; the same seed and parameters give byte-identical files.
    bluesky_share
        Share of the actions that happen on Bluesky.
    config
        Scenario parameters; defaults to :class:`ScenarioConfig`.

    Returns
    -------
    ScenarioFiles
        Paths of the files and the number of actions written.

    Raises
    ------
    ScenarioConfigError
        When a parameter is out of range.

    Examples
    --------
    >>> import tempfile
    >>> files = generate_scenario(Path(tempfile.mkdtemp()), actions=3000, seed=1)
    >>> 2800 < files.actions_written < 3200
    True
    """
    config = config or ScenarioConfig()
    plan = make_plan(config, actions, seed, bluesky_share)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files = {
        "x_v2": out / "x_v2.jsonl",
        "x_liking_users": out / "x_liking_users.jsonl",
        "jetstream": out / "jetstream.jsonl",
        "articles_rss": out / "articles.xml",
        "factchecks": out / "factchecks.jsonld",
        "ground_truth": out / "ground_truth.json",
    }
    articles = make_articles(plan, _rand(f"{seed}:articles"))
    written = 0
    truth_parts = []
    for k, pp in enumerate(plan.platforms):
        pop, sch = _platform(plan, k, pp, articles)
        counts = _counts(plan, pp, pop, sch) if pp.platform == "x" else None
        eng = Engine(plan, pp, pop, sch.planned, sch.next_key, seed)
        maker = PartsMaker(TextMaker(_rand(f"{seed}:{k}:text")), articles, config.note_tweet_share)
        col = TruthCollector(pp.platform)
        posts = eng.posts
        if pp.platform == "x":
            with files["x_v2"].open("wb") as fh:
                xw = XWriter(fh, plan, pop, posts, counts, maker, _rand(f"{seed}:{k}:x"))
                for ev in eng.batches():
                    xw.write_batch(ev)
                    col.add(ev, posts.deleted)
                xw.flush()
            with files["x_liking_users"].open("wb") as fh:
                written += xw.tweets + write_liking_users(fh, xw)

            def pid(s: int, posts=posts) -> str:
                return str(int(snowflake(np.array([posts.t[s]]), np.array([s]))[0]))
        else:
            with files["jetstream"].open("wb") as fh:
                jw = JetstreamWriter(fh, pop, posts, maker, seed)
                for h, ev in enumerate(eng.batches()):
                    jw.write_batch(ev, min(plan.end, plan.start + (h + 1) * HOUR_MS))
                    col.add(ev, posts.deleted)
                    written += int(np.sum(ev["kind"] != FOLLOW))
                jw.finish(plan.end)

            def pid(s: int, posts=posts, pop=pop) -> str:
                return post_uri(pop, posts, s)

        truth_parts.append((col, pop, pid))
    first_url = next(str(a["link"]) for a in articles if a["kind"] == "claim")
    reviews = write_claimreviews(
        files["factchecks"], plan.claim_start, plan.factcheck_at, first_url
    )
    write_rss(files["articles_rss"], articles, plan.end)
    info: dict[str, Any] = {
        "generator": "fimiscope.simulate",
        "generator_version": GENERATOR_VERSION,
        "parameters": {
            "actions": actions,
            "seed": seed,
            "bluesky_share": bluesky_share,
            "config": dataclasses.asdict(config),
        },
        "window": {"start": iso_ms(plan.start), "end": iso_ms(plan.end)},
        "events": {
            "claim_start": iso_ms(plan.claim_start),
            "factcheck_published": iso_ms(plan.factcheck_at),
            "interview": iso_ms(plan.interview_at),
            "earthquake_alert": iso_ms(plan.quake_at),
            "hashtag_day_start": iso_ms(plan.hashtag_from),
            "election_day": config.election_day,
        },
        "actions_written": written,
    }
    claim = {
        "id": "sanctions_lifting",
        "text_ja": "日本が対露制裁の解除を開始",
        "text_en": "Japan has started lifting its sanctions on Russia",
        "text_ru": vocab.CLAIM["ru"][0],
        "started_at": iso_ms(plan.claim_start),
        "first_article": first_url,
        "articles": [str(a["link"]) for a in articles if a["kind"] == "claim"],
        "factcheck_url": FACTCHECK_URL,
        "factcheck_published": reviews[0]["datePublished"],
        "verdict": "誤り",
    }
    truth = build_truth(info, truth_parts, claim)
    write_truth(files["ground_truth"], truth)
    return ScenarioFiles(**files, actions_written=written)
