"""Planned activity of the benign look-alikes: fans, news bots, breaking news, a hashtag day."""

from __future__ import annotations

from typing import Any

import numpy as np

from fimiscope.simulate.config import DAY_MS, HOUR_MS
from fimiscope.simulate.events import (
    LIKE,
    POST,
    R_ALERT,
    R_ALERT_SHARE,
    R_FAN,
    R_HASHTAG,
    R_IDOL,
    R_NEWS,
    REPOST,
    human_delay,
    jst_weight,
    sample_times,
)
from fimiscope.simulate.population import ALERT, FAN, IDOL, NEWS
from fimiscope.simulate.text import N_ID


class BenignPlans:
    """Mixin of :class:`fimiscope.simulate.schedule.Scheduler` for the benign components."""

    plan: Any
    pop: Any
    rng: np.random.Generator
    organic: np.ndarray
    articles: list[dict[str, object]]

    def key(self) -> int:  # pragma: no cover - provided by the scheduler
        raise NotImplementedError

    def add(self, n: int, **cols: object) -> None:  # pragma: no cover - provided by the scheduler
        raise NotImplementedError

    def fans(self, budget: float) -> None:
        """Idol posts, each reposted (and liked) by a share of the fans with human delays."""
        rng, plan = self.rng, self.plan
        fans = self.pop.members(FAN)
        idol = int(self.pop.members(IDOL)[0])
        keen = rng.uniform(0.5, 0.9, len(fans))
        n_posts = max(3, round(budget / (len(fans) * 0.7 * 1.4)))
        t_posts = sample_times(rng, n_posts, plan.start, plan.end - 6 * HOUR_MS, jst_weight)
        for t0 in t_posts:
            k = self.key()
            self.add(
                1, t=int(t0), actor=idol, kind=POST, narr=N_ID["idol_fandom"], role=R_IDOL, okey=k
            )
            who = fans[rng.random(len(fans)) < keen]
            self.add(
                len(who),
                t=human_delay(rng, np.full(len(who), t0), self.plan.config.fan_delay_median_s, 1.0),
                actor=who,
                kind=REPOST,
                tkey=k,
                role=R_FAN,
            )
            lk = who[rng.random(len(who)) < 0.4]
            self.add(
                len(lk),
                t=human_delay(rng, np.full(len(lk), t0), 1800.0, 1.2),
                actor=lk,
                kind=LIKE,
                tkey=k,
                role=R_FAN,
            )
        # fans also chat among themselves about the idol
        n_chat = round(budget * 0.1)
        self.add(
            n_chat,
            t=sample_times(rng, n_chat, plan.start, plan.end, jst_weight),
            actor=rng.choice(fans, n_chat),
            kind=POST,
            narr=N_ID["idol_fandom"],
            role=R_FAN,
        )

    def news(self, budget: float) -> None:
        """Outlet bots post headlines with links; wire stories appear from several outlets."""
        news = self.pop.members(NEWS)
        mine = [i for i, a in enumerate(self.articles) if a["kind"] in ("news", "wire")]
        keep = max(1, round(budget))
        sel = (
            mine
            if keep >= len(mine)
            else [mine[i] for i in np.linspace(0, len(mine) - 1, keep).astype(int)]
        )
        for ai in sel:
            art = self.articles[ai]
            who = int(news[int(art["outlet_no"]) % len(news)])
            self.add(
                1,
                t=int(art["pub_ms"]) + int(self.rng.integers(0, 20_000)),
                actor=who,
                kind=POST,
                narr=N_ID["news_headlines"],
                role=R_NEWS,
                arg=ai,
            )

    def breaking(self, budget: float) -> None:
        """An earthquake alert that thousands of users repost within minutes."""
        rng, plan = self.rng, self.plan
        alert = int(self.pop.members(ALERT)[0])
        k = self.key()
        self.add(
            1,
            t=plan.quake_at,
            actor=alert,
            kind=POST,
            narr=N_ID["breaking_quake"],
            role=R_ALERT,
            okey=k,
        )
        n = min(len(self.organic), max(20, round(budget)))
        who = rng.choice(self.organic, n, replace=False)
        d = np.exp(rng.normal(np.log(240.0), 1.0, n)) * 1000
        self.add(
            n,
            t=plan.quake_at + 3000 + d.astype(np.int64),
            actor=who,
            kind=REPOST,
            tkey=k,
            role=R_ALERT_SHARE,
        )
        for j in range(3):
            self.add(
                1,
                t=plan.quake_at + (j + 1) * 11 * 60_000,
                actor=alert,
                kind=POST,
                narr=N_ID["breaking_quake"],
                role=R_ALERT,
            )

    def hashtag(self, budget: float) -> None:
        """#選挙に行こう posts by many distinct users over one day, at human times."""
        rng, plan = self.rng, self.plan
        n = min(len(self.organic), max(10, round(budget)))
        who = rng.choice(self.organic, n, replace=False)
        t = sample_times(rng, n, plan.hashtag_from, plan.hashtag_from + DAY_MS, jst_weight)
        self.add(
            n,
            t=t,
            actor=who,
            kind=POST,
            narr=N_ID["get_out_vote"],
            role=R_HASHTAG,
            lang=np.where(self.pop.lang[who] == 1, 1, 0),
        )
