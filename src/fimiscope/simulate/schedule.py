"""Planned (non-background) activity of the operation: bots, state media, the false claim.

A planned row that creates a post others refer to carries an origin key (``okey``); a row
acting on it carries the key as ``tkey``. The hourly engine in
:mod:`fimiscope.simulate.behaviour` turns keys into post serial numbers.
"""

from __future__ import annotations

import numpy as np

from fimiscope.simulate.benign import BenignPlans
from fimiscope.simulate.config import DAY_MS, HOUR_MS, Plan, PlatformPlan
from fimiscope.simulate.events import (
    FOLLOW,
    LIKE,
    POST,
    QUOTE,
    R_CAMPAIGN,
    R_CLAIM_BOT,
    R_CLAIM_ORG,
    R_CLAIM_STATE,
    R_COPYPASTA,
    R_FILLER,
    R_INTERVIEW,
    R_INTERVIEW_AMP,
    R_INTERVIEW_ORG,
    R_SEED,
    R_STATE_AMP,
    R_STATE_NEWS,
    REPOST,
    Events,
    bot_weight,
    concat,
    human_delay,
    jst_weight,
    rows,
    sample_times,
    sort,
)
from fimiscope.simulate.population import BOT, STATE, Population
from fimiscope.simulate.text import N_ID, TextMaker


class Scheduler(BenignPlans):
    """Build the planned events of one platform; keys are unique within the platform."""

    def __init__(
        self,
        plan: Plan,
        pp: PlatformPlan,
        pop: Population,
        rng: np.random.Generator,
        text: TextMaker,
        articles: list[dict[str, object]],
    ) -> None:
        self.plan, self.pp, self.pop, self.rng, self.text = plan, pp, pop, rng, text
        self.articles = articles
        self.next_key = 0
        self.tables: list[Events] = []
        self.campaigns: list[dict[str, object]] = []
        self.holidays = {
            int(np.datetime64(d, "D").astype(np.int64)) for d in plan.config.russian_holidays
        }
        self.bots = pop.members(BOT)
        self.organic = np.flatnonzero(pop.activity > 0)

    def key(self) -> int:
        """Return a fresh origin key."""
        self.next_key += 1
        return self.next_key - 1

    def add(self, n: int, **cols: object) -> None:
        """Append ``n`` planned rows."""
        if n > 0:
            self.tables.append(rows(n, **cols))

    def _bot_times(self, n: int, lo: int | None = None, hi: int | None = None) -> np.ndarray:
        lo = self.plan.start + HOUR_MS if lo is None else lo
        hi = self.plan.end - 2 * HOUR_MS if hi is None else hi
        return sample_times(self.rng, n, lo, hi, lambda g: bot_weight(g, self.holidays))

    def _pile_on(
        self,
        t0: int,
        tkey: int,
        role: int,
        arg: int,
        kinds: tuple[tuple[int, float], ...],
        narr: int = 0,
    ) -> int:
        """Each participating bot acts on ``tkey`` a few seconds after ``t0``; return rows."""
        rng, cfg = self.rng, self.plan.config
        part = self.bots[rng.random(len(self.bots)) < self.pop.participation[self.bots]]
        total = 0
        for kind, prob in kinds:
            who = part[rng.random(len(part)) < prob]
            d = np.exp(rng.normal(np.log(cfg.bot_delay_median_s), 0.9, len(who)))
            d = np.minimum(d, cfg.bot_delay_max_s) * 1000
            self.add(
                len(who),
                t=t0 + 1000 + d.astype(np.int64),
                actor=who,
                kind=kind,
                tkey=tkey,
                role=role,
                arg=arg,
                narr=narr,
            )
            total += len(who)
        return total

    def build(self) -> Events:
        """Plan every component and return the rows sorted by time."""
        a = self.pp.actions
        cfg = self.plan.config
        self.state_and_interview(cfg.state_share * a)
        self.claim(cfg.claim_share * a, cfg.bot_share * a * 0.1)
        self.bot_campaigns(cfg.bot_share * a)
        self.fans(cfg.fan_share * a)
        self.news(cfg.news_share * a)
        self.breaking(cfg.breaking_share * a)
        self.hashtag(cfg.hashtag_share * a)
        if self.pp.platform == "bluesky":
            self.follows(a * 0.01)
        ev = sort(concat(self.tables))
        keep = (ev["t"] >= self.plan.start) & (ev["t"] < self.plan.end)
        return {c: v[keep] for c, v in ev.items()}

    def follows(self, n_org: float) -> None:
        """Bots follow the outlet and each other; ordinary users follow at random."""
        rng = self.rng
        state = self.pop.members(STATE)
        for b in self.bots:
            others = rng.choice(self.bots, min(len(self.bots), 5), replace=False)
            tgt = np.r_[state[:1], others[others != b]]
            self.add(len(tgt), t=self._bot_times(len(tgt)), actor=b, kind=FOLLOW, arg=tgt)
        n = round(n_org)
        self.add(
            n,
            t=sample_times(rng, n, self.plan.start, self.plan.end, jst_weight),
            actor=rng.choice(self.organic, n),
            kind=FOLLOW,
            arg=rng.choice(self.organic, n),
        )

    def bot_campaigns(self, budget: float) -> None:
        """Like-and-repost campaigns on government-critical posts, copy-paste posts, filler."""
        rng = self.rng
        nb = max(1, len(self.bots))
        n_amp = max(3, round(0.5 * budget / (nb * 0.6 * 1.75)))
        for c, t0 in enumerate(np.sort(self._bot_times(n_amp))):
            k = self.key()
            author = int(rng.choice(self.organic))
            seed_t = int(t0) - int(rng.integers(20 * 60_000, 4 * HOUR_MS))
            self.add(
                1,
                t=seed_t,
                actor=author,
                kind=POST,
                narr=N_ID["gov_criticism"],
                role=R_SEED,
                okey=k,
                arg=c,
            )
            n = self._pile_on(int(t0), k, R_CAMPAIGN, c, ((LIKE, 1.0), (REPOST, 0.75)))
            self.campaigns.append(
                {"kind": "amplify", "key": k, "trigger_ms": int(t0), "actions": n}
            )
        n_cp = max(2, round(0.2 * budget / (nb * 0.6)))
        for c, t0 in enumerate(self._bot_times(n_cp)):
            part = self.bots[rng.random(nb) < self.pop.participation[self.bots]]
            d = np.exp(rng.normal(np.log(25.0), 1.0, len(part))).clip(1, 300) * 1000
            self.add(
                len(part),
                t=int(t0) + d.astype(np.int64),
                actor=part,
                kind=POST,
                narr=N_ID["gov_criticism"],
                role=R_COPYPASTA,
                arg=c,
            )
        n_fill = round(0.15 * budget)
        self.add(
            n_fill,
            t=self._bot_times(n_fill),
            actor=rng.choice(self.bots, n_fill),
            kind=LIKE,
            role=R_FILLER,
        )

    def state_and_interview(self, budget: float) -> None:
        """Outlet posts linking to their articles, the interview and its amplification."""
        rng, plan = self.rng, self.plan
        state = self.pop.members(STATE)
        mine = [i for i, a in enumerate(self.articles) if a["kind"] == "state"]
        step = max(1, len(mine) // max(1, round(budget * 0.15)))
        for j, ai in enumerate(mine[::step]):
            art = self.articles[ai]
            who = state[j % len(state)] if art["lang"] == "ja" else state[min(len(state) - 1, 1)]
            k = self.key()
            t0 = int(art["pub_ms"]) + int(rng.integers(60_000, 20 * 60_000))
            self.add(
                1,
                t=t0,
                actor=who,
                kind=POST,
                narr=N_ID["state_media_news"],
                role=R_STATE_NEWS,
                arg=ai,
                okey=k,
                lang={"ja": 0, "en": 1, "ru": 2}[art["lang"]],
            )
            if j % 3 == 0:
                self._pile_on(t0, k, R_STATE_AMP, ai, ((REPOST, 0.5),))
        ik = self.key()
        interview = next(i for i, a in enumerate(self.articles) if a["kind"] == "interview")
        self.add(
            1,
            t=plan.interview_at,
            actor=state[0],
            kind=POST,
            narr=N_ID["candidate_interview"],
            role=R_INTERVIEW,
            arg=interview,
            okey=ik,
        )
        self._pile_on(plan.interview_at, ik, R_INTERVIEW_AMP, 0, ((REPOST, 0.9), (QUOTE, 0.3)))
        self._pile_on(plan.interview_at + DAY_MS, ik, R_INTERVIEW_AMP, 1, ((REPOST, 0.3),))
        n_org = round(budget * 0.5)
        who = rng.choice(self.organic, n_org)
        t = human_delay(rng, np.full(n_org, plan.interview_at), 5400.0, 1.1)
        kind = np.where(rng.random(n_org) < 0.8, REPOST, QUOTE)
        self.add(
            n_org,
            t=t,
            actor=who,
            kind=kind,
            tkey=ik,
            role=R_INTERVIEW_ORG,
            narr=N_ID["candidate_interview"],
        )

    def claim(self, budget: float, bot_budget: float) -> None:
        """The false sanctions claim: outlets (ru), then bots, then organic users."""
        rng, plan = self.rng, self.plan
        state = self.pop.members(STATE)
        c0 = plan.claim_start
        ru = state[min(len(state) - 1, 1)]
        for j in range(3):
            self.add(
                1,
                t=c0 + (30 + 25 * j) * 60_000 + int(rng.integers(0, 60_000)),
                actor=ru,
                kind=POST,
                narr=N_ID["sanctions_claim"],
                role=R_CLAIM_STATE,
                lang=2,
                arg=next(i for i, a in enumerate(self.articles) if a["kind"] == "claim"),
            )
        n_bot = max(len(self.bots) // 2, round(bot_budget))

        def rising(g: np.ndarray) -> np.ndarray:
            x = np.maximum(0.0, (g - c0 - 2 * HOUR_MS) / HOUR_MS)
            return x**2 * np.exp(-x / 9.0) * bot_weight(g, self.holidays) + 1e-12

        t = sample_times(rng, n_bot, c0 + 2 * HOUR_MS, c0 + 4 * DAY_MS, rising)
        lang = np.where(rng.random(n_bot) < 0.8, 0, 1)
        self.add(
            n_bot,
            t=t,
            actor=rng.choice(self.bots, n_bot),
            kind=POST,
            narr=N_ID["sanctions_claim"],
            role=R_CLAIM_BOT,
            lang=lang,
        )
        n = max(5, round(budget))
        t = c0 + 3 * HOUR_MS + (rng.gamma(4.0, 7.5, n) * HOUR_MS).astype(np.int64)
        t = human_delay(rng, t, 1.0, 0.1)
        who = rng.choice(self.organic, n)
        self.add(
            n,
            t=t,
            actor=who,
            kind=POST,
            narr=N_ID["sanctions_claim"],
            role=R_CLAIM_ORG,
            lang=np.where(self.pop.lang[who] == 1, 1, np.where(rng.random(n) < 0.15, 1, 0)),
        )
