"""Automation signals per account, computed in DuckDB over the canonical tables.

Each feature is one documented SQL expression; :data:`FEATURES` lists the numeric ones that
the automation score and a trained model use, in a fixed order.

References
----------
.. [1] Varol, O., Ferrara, E., Davis, C. A., Menczer, F., & Flammini, A. (2017). Online
   human-bot interactions: detection, estimation, and characterization. *ICWSM*.
.. [2] Goh, K.-I., & Barabasi, A.-L. (2008). Burstiness and memory in complex systems.
   *EPL* 81, 48002.
.. [3] Chavoshi, N., Hamooni, H., & Mueen, A. (2016). DeBot: Twitter bot detection via
   warped correlation. *ICDM*.
.. [4] Yang, K.-C., Varol, O., Hui, P.-M., & Menczer, F. (2020). Scalable and generalizable
   social bot detection through data selection. *AAAI* (profile features, default names).
"""

from __future__ import annotations

from typing import Any

import duckdb
import numpy as np

from fimiscope._sql import quote_ident

FEATURES: tuple[str, ...] = (
    "rate_per_day",
    "burstiness",
    "iet_entropy",
    "repost_share",
    "dup_text_share",
    "hour_entropy",
    "age_days",
    "creation_burst_share",
    "handle_digit_tail",
    "default_handle",
    "default_profile",
    "follower_ratio_log10",
    "third_party_client_share",
)
"""Numeric features, in the order models see them."""

FIRST_PARTY_CLIENTS: tuple[str, ...] = (
    "Twitter for iPhone",
    "Twitter for Android",
    "Twitter for iPad",
    "Twitter for Mac",
    "Twitter Web App",
    "Twitter Web Client",
    "TweetDeck",
    "TweetDeck Web App",
    "X for iPhone",
    "X for Android",
    "X Web App",
)
"""Clients published by the platform itself; anything else counts as third-party."""

CREATION_BURST_DAYS = 3
IET_BINS = 22  # log2 bins of inter-event seconds: 2**21 s is ~24 days, the longest gap we expect

# Each statement is one reviewed unit. `?` values are bound; temp tables are prefixed _ch_.
_ACTIONS = """
CREATE OR REPLACE TEMP TABLE _ch_actions AS
SELECT platform, account_id, created_at AS ts, kind FROM posts
 WHERE account_id IS NOT NULL AND created_at IS NOT NULL
UNION ALL
SELECT platform, account_id, "at" AS ts, kind FROM engagements WHERE "at" IS NOT NULL
"""

_TIMING = """
CREATE OR REPLACE TEMP TABLE _ch_timing AS
WITH gaps AS (
  SELECT platform, account_id, ts,
         epoch(ts) - epoch(lag(ts) OVER (PARTITION BY platform, account_id ORDER BY ts)) AS gap
    FROM _ch_actions
), gbins AS (
  SELECT platform, account_id, floor(log2(gap + 1))::INTEGER AS b, count(*) AS c
    FROM gaps WHERE gap IS NOT NULL GROUP BY ALL
), gent AS (
  SELECT platform, account_id,
         -sum(c / t * ln(c / t)) / ln(least(max(t), ?)) AS iet_entropy
    FROM (SELECT *, sum(c) OVER (PARTITION BY platform, account_id) AS t FROM gbins)
   WHERE t >= 2 GROUP BY ALL
), hours AS (
  SELECT platform, account_id, hour(ts) AS h, count(*) AS c FROM _ch_actions GROUP BY ALL
), hent AS (
  SELECT platform, account_id,
         -sum(c / t * ln(c / t)) / ln(least(max(t), 24)) AS hour_entropy
    FROM (SELECT *, sum(c) OVER (PARTITION BY platform, account_id) AS t FROM hours)
   WHERE t >= 2 GROUP BY ALL
), agg AS (
  SELECT platform, account_id, count(*) AS n_actions, min(ts) AS first_ts,
         greatest((epoch(max(ts)) - epoch(min(ts))) / 86400.0, 1.0) AS active_days,
         avg(gap) AS m, stddev_pop(gap) AS s, count(gap) AS n_gaps
    FROM gaps GROUP BY ALL
)
SELECT agg.platform, agg.account_id, n_actions, first_ts, active_days,
       n_actions / active_days AS rate_per_day,
       CASE WHEN n_gaps >= 2 AND s + m > 0 THEN (s - m) / (s + m) END AS burstiness,
       gent.iet_entropy, hent.hour_entropy
  FROM agg
  LEFT JOIN gent USING (platform, account_id)
  LEFT JOIN hent USING (platform, account_id)
"""

_POSTS = """
CREATE OR REPLACE TEMP TABLE _ch_postfeat AS
WITH t AS (
  SELECT platform, account_id, kind, client, text_norm,
         CASE WHEN kind <> 'repost' AND coalesce(trim(text_norm), '') <> ''
              THEN count(*) OVER (PARTITION BY platform, text_norm) END AS same_text
    FROM posts WHERE account_id IS NOT NULL
)
SELECT platform, account_id, count(*) AS n_posts,
       avg(CASE WHEN kind = 'repost' THEN 1.0 ELSE 0.0 END) AS repost_share,
       avg(CASE WHEN same_text IS NULL THEN NULL WHEN same_text > 1 THEN 1.0 ELSE 0.0 END)
         AS dup_text_share,
       avg(CASE WHEN client IS NULL THEN NULL
                WHEN list_contains(?, client) THEN 0.0 ELSE 1.0 END) AS third_party_client_share
  FROM t GROUP BY ALL
"""

_CLIENTS = """
CREATE OR REPLACE TEMP TABLE _ch_clients AS
SELECT platform, account_id,
       string_agg(client || ':' || n::VARCHAR, ',' ORDER BY n DESC, client) AS clients
  FROM (SELECT platform, account_id, client, count(*) AS n FROM posts
         WHERE account_id IS NOT NULL AND client IS NOT NULL GROUP BY ALL)
 GROUP BY ALL
"""

_MEMBERS = """
CREATE OR REPLACE TEMP TABLE _ch_members AS
SELECT platform, account_id, min(group_id) AS group_id FROM coord_members
 WHERE run_id = ? GROUP BY ALL
"""

_BURSTS = """
CREATE OR REPLACE TEMP TABLE _ch_bursts AS
WITH m AS (
  SELECT cm.group_id, cm.platform, cm.account_id, a.created_at
    FROM _ch_members cm JOIN accounts a USING (platform, account_id)
   WHERE a.created_at IS NOT NULL
), sizes AS (SELECT group_id, count(*) AS k FROM m GROUP BY ALL)
SELECT x.platform, x.account_id,
       CASE WHEN any_value(sizes.k) > 1
            THEN count(y.account_id) / (any_value(sizes.k) - 1.0) ELSE NULL END
         AS creation_burst_share
  FROM m x JOIN sizes USING (group_id)
  LEFT JOIN m y ON y.group_id = x.group_id AND y.account_id <> x.account_id
       AND abs(epoch(y.created_at) - epoch(x.created_at)) <= ? * 86400
 GROUP BY ALL
"""

_FEATURES = """
SELECT t.platform, t.account_id, mem.group_id,
       t.n_actions, coalesce(p.n_posts, 0) AS n_posts, t.active_days, t.rate_per_day,
       t.burstiness, t.iet_entropy, p.repost_share, p.dup_text_share, t.hour_entropy,
       CASE WHEN a.created_at IS NOT NULL
            THEN greatest((epoch(t.first_ts) - epoch(a.created_at)) / 86400.0, 0.0) END
         AS age_days,
       b.creation_burst_share,
       length(regexp_extract(split_part(coalesce(a.handle_norm, ''), '.', 1), '[0-9]+$'))
         AS handle_digit_tail,
       regexp_full_match(split_part(coalesce(a.handle_norm, ''), '.', 1), '[a-z][a-z_]*[0-9]{6,}')
         AS default_handle,
       a.default_profile_image AS default_profile,
       CASE WHEN a.followers_count IS NOT NULL AND a.following_count IS NOT NULL
            THEN log10((a.followers_count + 1.0) / (a.following_count + 1.0)) END
         AS follower_ratio_log10,
       p.third_party_client_share, c.clients
  FROM _ch_timing t
  LEFT JOIN _ch_postfeat p USING (platform, account_id)
  LEFT JOIN accounts a USING (platform, account_id)
  LEFT JOIN _ch_bursts b USING (platform, account_id)
  LEFT JOIN _ch_members mem USING (platform, account_id)
  LEFT JOIN _ch_clients c USING (platform, account_id)
"""

COLUMNS: tuple[str, ...] = (
    "platform",
    "account_id",
    "group_id",
    "n_actions",
    "n_posts",
    "active_days",
    "rate_per_day",
    "burstiness",
    "iet_entropy",
    "repost_share",
    "dup_text_share",
    "hour_entropy",
    "age_days",
    "creation_burst_share",
    "handle_digit_tail",
    "default_handle",
    "default_profile",
    "follower_ratio_log10",
    "third_party_client_share",
    "clients",
)


def compute_features(con: duckdb.DuckDBPyConnection, coordination_run: str | None) -> None:
    """Build the temp table ``_ch_features`` (columns :data:`COLUMNS`) for every active account.

    Parameters
    ----------
    con
        The store's connection.
    coordination_run
        A detect run whose groups give ``group_id`` and ``creation_burst_share``; None for none.

    Notes
    -----
    An account is *active* when it has at least one timed action (a post of any kind or a
    timed engagement). Inter-event features need three actions, hour entropy two.
    """
    con.execute(_ACTIONS)
    con.execute(_TIMING, [IET_BINS])
    con.execute(_POSTS, [list(FIRST_PARTY_CLIENTS)])
    con.execute(_CLIENTS)
    con.execute(_MEMBERS, [coordination_run or ""])
    con.execute(_BURSTS, [CREATION_BURST_DAYS])
    con.execute("CREATE OR REPLACE TEMP TABLE _ch_features AS " + _FEATURES)


def feature_matrix(
    con: duckdb.DuckDBPyConnection, where: str = "", params: list[Any] | None = None
) -> tuple[list[tuple[str, str]], np.ndarray]:
    """Return the account keys and the float matrix of :data:`FEATURES` (NaN where NULL)."""
    cols = ", ".join(f"CAST({quote_ident(f)} AS DOUBLE)" for f in FEATURES)
    rows = con.execute(
        f"SELECT platform, account_id, {cols} FROM _ch_features {where} "
        "ORDER BY platform, account_id",
        params or [],
    ).fetchall()
    keys = [(r[0], r[1]) for r in rows]
    x = np.array([[np.nan if v is None else v for v in r[2:]] for r in rows], dtype=float)
    return keys, x.reshape(len(rows), len(FEATURES))
