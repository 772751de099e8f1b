"""Synthetic repost data for the peer benchmark, generated with numpy in seconds.

Targets are Zipf-popular original posts created over two days; each repost follows its post
after a heavy-tailed delay (log-normal, median 20 min), so a hot post draws a burst of
reposts that decays over hours. A planted group of bots reposts the same posts within
seconds of each other. A small share of reposts are repeated by the same account later
(un-retweet and retweet again), which is where directed weights become lopsided.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

T0 = 1_704_067_200  # 2024-01-01T00:00:00Z


@dataclass(frozen=True)
class RepostData:
    message_id: np.ndarray  # int64
    user_id: np.ndarray  # int64
    repost_id: np.ndarray  # int64, the reposted post
    ts: np.ndarray  # int64 epoch seconds (X v1.1 `created_at` has second resolution)
    bots: np.ndarray  # the planted accounts

    def __len__(self) -> int:
        return len(self.message_id)


def generate(n: int, *, seed: int = 42, n_bots: int = 50, bot_posts: int = 200) -> RepostData:
    rng = np.random.default_rng(seed)
    n_users = max(1000, n // 15)
    n_posts = max(200, n // 20)
    n_bot = n_bots * bot_posts
    n_dup = n // 1000
    n_org = n - n_bot - n_dup
    post_t = T0 + rng.integers(0, 2 * 86_400, n_posts)
    # Zipf's law over ranks: post k drawn with weight k^-1 (the top post gets ~9 % of all
    # reposts, as measured on real sets), users active with weight k^-0.6.
    # One repost per (account, post), as on X; oversample, then drop repeats.
    post = _zipf_ranks(rng, n_posts, 1.0, n_org + n_org // 4 + 1000)
    user = _zipf_ranks(rng, n_users, 0.6, len(post))
    _, first = np.unique(user.astype(np.int64) * n_posts + post, return_index=True)
    first = np.sort(first)[:n_org]
    post, user = post[first], user[first]
    n_org = len(post)
    delay = rng.lognormal(np.log(3600), 1.8, n_org).astype(np.int64)
    ts = post_t[post] + delay
    # Planted bots: n_bots accounts repost bot_posts posts, each within 30 s of a leader.
    bots = np.arange(n_users, n_users + n_bots)
    bpost = rng.choice(n_posts, bot_posts, replace=False)
    lead = post_t[bpost] + rng.integers(30, 3600, bot_posts)
    b_post = np.repeat(bpost, n_bots)
    b_user = np.tile(bots, bot_posts)
    b_ts = np.repeat(lead, n_bots) + rng.integers(0, 31, n_bot)
    # Re-reposts: the same account reposts the same post again 1-120 s later.
    pick = rng.integers(0, n_org, n_dup)
    d_post, d_user, d_ts = post[pick], user[pick], ts[pick] + rng.integers(1, 121, n_dup)
    post = np.concatenate([post, b_post, d_post])
    user = np.concatenate([user, b_user, d_user])
    ts = np.concatenate([ts, b_ts, d_ts])
    order = np.argsort(ts, kind="stable")
    return RepostData(
        message_id=np.arange(10**12, 10**12 + len(ts), dtype=np.int64),
        user_id=user[order] + 10**6,
        repost_id=post[order] + 10**9,
        ts=ts[order],
        bots=bots + 10**6,
    )


def _zipf_ranks(rng: np.random.Generator, n: int, a: float, size: int) -> np.ndarray:
    w = np.arange(1, n + 1, dtype=np.float64) ** -a
    cdf = np.cumsum(w)
    idx = np.searchsorted(cdf, rng.random(size) * cdf[-1], side="right")
    return rng.permutation(n)[np.minimum(idx, n - 1)]


def peer_csv_table(d: RepostData) -> pa.Table:
    """The toolkit's CSV import columns (all rows are reposts: no reply, text or URL)."""
    n = len(d)
    empty = pa.array(np.full(n, "", dtype=object), pa.string())
    return pa.table(
        {
            "message_id": pa.array(d.message_id).cast(pa.string()),
            "user_id": pa.array(d.user_id).cast(pa.string()),
            "username": pa.array(d.user_id).cast(pa.string()),
            "repost_id": pa.array(d.repost_id).cast(pa.string()),
            "reply_id": empty,
            "message": pa.array(np.full(n, "RT", dtype=object), pa.string()),
            "timestamp": pa.array(d.ts),
            "urls": empty,
        }
    )


def actions_table(d: RepostData) -> pa.Table:
    """The same reposts as fimiscope actions (trace `repost`)."""
    n = len(d)
    return pa.table(
        {
            "platform": pa.array(np.full(n, "x", dtype=object), pa.string()),
            "account_id": pa.array(d.user_id).cast(pa.string()),
            "trace": pa.array(np.full(n, "repost", dtype=object), pa.string()),
            "target": pa.array(d.repost_id).cast(pa.string()),
            "at": pa.array(d.ts * 1_000_000, pa.timestamp("us", tz="UTC")),
            "post_id": pa.array(d.message_id).cast(pa.string()),
        }
    )
