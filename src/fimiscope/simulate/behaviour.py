"""The hourly engine: background users plus the planned rows, resolved to concrete posts.

Each hour the engine draws the organic actions (how many from a Japan-time rhythm, who from
heavy-tailed activity), merges the planned rows, numbers every post, and picks the targets
of organic reposts, likes, replies and quotes by popularity times a decay with age (engagement
arrives over hours, not seconds). Only per-post arrays (time, author, conversation) and the
pool of recent posts are kept, so memory stays bounded by the number of posts.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from fimiscope.simulate.config import DAY_MS, HOUR_MS, Plan, PlatformPlan
from fimiscope.simulate.events import (
    COLUMNS,
    FOLLOW,
    LIKE,
    POST,
    QUOTE,
    R_ALERT,
    R_IDOL,
    R_INTERVIEW,
    R_NEWS,
    R_ORGANIC,
    R_SEED,
    REPLY,
    REPOST,
    Events,
    jst_weight,
    rows,
    sort,
)
from fimiscope.simulate.population import BOT, NEWS, Population
from fimiscope.simulate.text import N_ID

ORIGINAL = (POST, REPLY, QUOTE)
_KIND_P = np.array([0.2, 0.1, 0.03, 0.25, 0.42])
_JA_TOPICS = np.array(
    [
        N_ID[n]
        for n in (
            "organic_misc",
            "prices",
            "tax",
            "foreigners",
            "pension",
            "birthrate",
            "gov_criticism",
            "get_out_vote",
        )
    ]
)
_JA_P = np.array([0.36, 0.13, 0.1, 0.07, 0.05, 0.04, 0.2, 0.05])
_EN_TOPICS = np.array([N_ID["english_election"], N_ID["organic_misc"]])
_BOOST = {R_INTERVIEW: 40.0, R_ALERT: 60.0, R_SEED: 4.0, R_IDOL: 2.0, R_NEWS: 0.05}


class Grow:
    """Per-post arrays that grow by doubling."""

    def __init__(self) -> None:
        self.n = 0
        self.cap = 1 << 16
        self.t = np.zeros(self.cap, np.int64)
        self.author = np.zeros(self.cap, np.int32)
        self.conv = np.zeros(self.cap, np.int64)
        self.kind = np.zeros(self.cap, np.int8)
        self.deleted = np.zeros(self.cap, bool)

    def reserve(self, n: int) -> np.ndarray:
        """Return ``n`` new serial numbers."""
        while self.n + n > self.cap:
            self.cap *= 2
            for name in ("t", "author", "conv", "kind", "deleted"):
                old = getattr(self, name)
                new = np.zeros(self.cap, old.dtype)
                new[: len(old)] = old
                setattr(self, name, new)
        out = np.arange(self.n, self.n + n, dtype=np.int64)
        self.n += n
        return out


def hour_weights(plan: Plan) -> np.ndarray:
    """Relative organic volume per hour: JST rhythm, weekends, growth towards voting day."""
    h0 = plan.start + np.arange(plan.hours, dtype=np.int64) * HOUR_MS
    mid = h0 + HOUR_MS // 2
    w = jst_weight(mid)
    jst = mid + 9 * HOUR_MS
    weekday = ((jst // DAY_MS) + 3) % 7
    hour = (jst // HOUR_MS) % 24
    weekend = weekday >= 5
    w = np.where(weekend & (hour >= 6) & (hour < 10), w * 0.7, w)
    w = np.where(weekend & (hour >= 10) & (hour < 18), w * 1.25, w)
    w = w * (1.0 + 0.6 * np.clip((mid - plan.start) / (plan.election_day - plan.start), 0, 1))
    night = (mid >= plan.election_day + 20 * HOUR_MS - 9 * HOUR_MS) & (
        mid < plan.election_day + 24 * HOUR_MS - 9 * HOUR_MS
    )
    return np.where(night, w * 2.0, w)


class Engine:
    """Iterate hour batches of one platform; deterministic in ``seed``."""

    def __init__(
        self, plan: Plan, pp: PlatformPlan, pop: Population, planned: Events, n_keys: int, seed: int
    ) -> None:
        self.plan, self.pp, self.pop, self.planned = plan, pp, pop, planned
        self.rng = np.random.default_rng([seed, 0 if pp.platform == "x" else 1, 3])
        self.posts = Grow()
        self.key_serial = np.full(max(1, n_keys), -1, np.int64)
        self.org = np.flatnonzero(pop.activity > 0)
        self.org_cum = np.cumsum(pop.activity[self.org])
        acts = int(np.sum(planned["kind"] != FOLLOW))
        total = max(0, pp.actions - acts)
        w = hour_weights(plan)
        self.per_hour = self.rng.multinomial(total, w / w.sum())
        fit = np.sqrt(1.0 + pop.followers.astype(float))
        fit[pop.group == BOT] *= 0.05
        fit[pop.group == NEWS] *= 0.2
        self.author_fit = fit
        self.pool_serial = np.zeros(0, np.int64)
        self.pool_fit = np.zeros(0)

    def _organic(self, h0: int, n: int) -> Events:
        rng, pop = self.rng, self.pop
        pick = np.searchsorted(self.org_cum, rng.random(n) * self.org_cum[-1])
        actor = self.org[np.minimum(pick, len(self.org) - 1)]
        kind = rng.choice(5, n, p=_KIND_P).astype(np.int8)
        lang = pop.lang[actor]
        ja_p = _JA_P.copy()
        ja_p[-1] *= 1.0 + 3.0 * max(0.0, (h0 - self.plan.election_day + 3 * DAY_MS) / (3 * DAY_MS))
        narr = np.where(
            lang == 1,
            rng.choice(_EN_TOPICS, n, p=[0.6, 0.4]),
            rng.choice(_JA_TOPICS, n, p=ja_p / ja_p.sum()),
        )
        t = h0 + rng.integers(0, HOUR_MS, n)
        return rows(n, t=t, actor=actor, kind=kind, narr=narr, lang=lang, role=R_ORGANIC)

    def _add_pool(self, ev: Events, mask: np.ndarray) -> None:
        ser = ev["serial"][mask]
        if len(ser) == 0:
            return
        fit = self.author_fit[ev["actor"][mask]] * np.exp(self.rng.normal(0.0, 1.0, len(ser)))
        for role, boost in _BOOST.items():
            fit = np.where(ev["role"][mask] == role, fit * boost, fit)
        self.pool_serial = np.concatenate([self.pool_serial, ser])
        self.pool_fit = np.concatenate([self.pool_fit, fit])

    def _targets(self, h0: int, n: int) -> np.ndarray:
        if len(self.pool_serial) == 0:
            return np.full(n, -1, np.int64)
        age_h = np.maximum(0, h0 + HOUR_MS // 2 - self.posts.t[self.pool_serial]) / HOUR_MS
        w = self.pool_fit * (1.0 + age_h / 0.75) ** -1.6
        cum = np.cumsum(w)
        idx = np.searchsorted(cum, self.rng.random(n) * cum[-1])
        return self.pool_serial[np.minimum(idx, len(cum) - 1)]

    def batches(self) -> Iterator[Events]:
        """Yield one time-sorted batch per hour with ``serial`` and resolved ``target``."""
        plan, rng, posts = self.plan, self.rng, self.posts
        pt = self.planned["t"]
        cfg = plan.config
        for h in range(plan.hours):
            h0 = plan.start + h * HOUR_MS
            h1 = min(plan.end, h0 + HOUR_MS)
            lo, hi = np.searchsorted(pt, [h0, h1])
            part = {c: self.planned[c][lo:hi] for c in COLUMNS}
            org = self._organic(h0, int(self.per_hour[h]))
            ev = sort({c: np.concatenate([part[c], org[c]]) for c in COLUMNS})
            n = len(ev["t"])
            is_post = np.isin(ev["kind"], (POST, REPLY, QUOTE, REPOST))
            serial = np.full(n, -1, np.int64)
            serial[is_post] = posts.reserve(int(is_post.sum()))
            ev["serial"] = serial
            posts.t[serial[is_post]] = ev["t"][is_post]
            posts.author[serial[is_post]] = ev["actor"][is_post]
            posts.kind[serial[is_post]] = ev["kind"][is_post]
            has_o = ev["okey"] >= 0
            self.key_serial[ev["okey"][has_o]] = serial[has_o]
            has_t = ev["tkey"] >= 0
            ev["target"][has_t] = self.key_serial[ev["tkey"][has_t]]
            keep = ~(has_t & (ev["target"] < 0))
            engage = np.isin(ev["kind"], (REPLY, QUOTE, REPOST, LIKE))
            self._add_pool(ev, (ev["kind"] == POST) & keep)
            need = engage & (ev["target"] < 0) & ~has_t
            ev["target"][need] = self._targets(h0, int(need.sum()))
            tgt = np.maximum(ev["target"], 0)
            tt = posts.t[tgt]
            late = need & (tt >= ev["t"])
            delay = (np.exp(rng.normal(np.log(120.0), 1.0, n)) * 1000).astype(np.int64)
            ev["t"] = np.where(late, np.minimum(h1 - 1, tt + 1000 + delay), ev["t"])
            keep &= ~(engage & ((ev["target"] < 0) | (ev["t"] <= tt)))
            keep &= ~(engage & (posts.author[tgt] == ev["actor"]))
            ev = sort({c: v[keep] for c, v in ev.items()})
            s = ev["serial"]
            ip = s >= 0
            posts.t[s[ip]] = ev["t"][ip]
            conv = s.copy()
            rp = ev["kind"] == REPLY
            conv[rp] = posts.conv[ev["target"][rp]]
            posts.conv[s[ip]] = conv[ip]
            org_orig = ip & (ev["role"] == R_ORGANIC) & (ev["kind"] != REPOST)
            posts.deleted[s[org_orig]] = rng.random(int(org_orig.sum())) < cfg.deleted_share
            self._add_pool(ev, np.isin(ev["kind"], (REPLY, QUOTE)))
            alive = posts.t[self.pool_serial] > h1 - int(cfg.pool_hours * HOUR_MS)
            self.pool_serial, self.pool_fit = self.pool_serial[alive], self.pool_fit[alive]
            yield ev
