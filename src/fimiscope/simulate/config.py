"""Scenario parameters and the sizes derived from them.

All times are Unix milliseconds (UTC). Shares are fractions of a platform's actions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime

from fimiscope.simulate.errors import ScenarioConfigError


def utc_ms(text: str) -> int:
    """Return Unix milliseconds for an ISO timestamp with offset.

    Examples
    --------
    >>> utc_ms("1970-01-01T09:00:00+09:00")
    0
    """
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)


HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS


@dataclass(frozen=True, kw_only=True)
class ScenarioConfig:
    """Parameters of the election scenario; every size not given is scaled from ``actions``.

    Parameters
    ----------
    start, end
        Observation window (ISO timestamps with offset).
    election_day, campaign_start
        Voting day and the official start of the campaign (dates, JST).
    claim_start
        When the false sanctions claim first appears (the Russian article).
    factcheck_delay_hours
        Hours from ``claim_start`` to the ClaimReview refuting it.
    interview_at, quake_at, hashtag_day
        The state-media candidate interview, the breaking earthquake alert and the day of the
        #選挙に行こう campaign (JST date).
    n_bots, n_fans
        Size of the bot network (both platforms) and of the fan community per platform.
    bot_share, fan_share, news_share, breaking_share, hashtag_share, state_share, claim_share
        Shares of a platform's actions taken by each component; organic users take the rest.
    english_share
        Share of organic users who write in English.
    bot_participation
        Each bot joins a uniform random share in this range of the campaigns.
    bot_delay_median_s, bot_delay_max_s
        Lognormal delay of a bot after a campaign trigger, and its cap.
    fan_delay_median_s
        Median delay of a fan's repost after the idol posts.
    activity_sigma
        Sigma of the lognormal activity of organic users.
    pool_hours
        How long a post can still attract engagement.
    deleted_share, missing_user_share, note_tweet_share, withheld_share
        Rates of the X data quirks.
    bot_bursts
        (first day, days) of each account-creation burst of the bot network (UTC dates).
    russian_holidays
        Dates on which the bot operators are off.
    """

    start: str = "2025-07-01T00:00:00+09:00"
    end: str = "2025-07-21T03:00:00+09:00"
    election_day: str = "2025-07-20"
    campaign_start: str = "2025-07-03"
    claim_start: str = "2025-07-14T10:10:00+03:00"
    factcheck_delay_hours: float = 26.0
    interview_at: str = "2025-07-09T12:30:00+03:00"
    quake_at: str = "2025-07-12T21:43:00+09:00"
    hashtag_day: str = "2025-07-19"
    n_bots: int | None = None
    n_fans: int | None = None
    bot_share: float = 0.06
    fan_share: float = 0.03
    news_share: float = 0.012
    breaking_share: float = 0.015
    hashtag_share: float = 0.01
    state_share: float = 0.006
    claim_share: float = 0.006
    english_share: float = 0.06
    bot_participation: tuple[float, float] = (0.4, 0.8)
    bot_delay_median_s: float = 9.0
    bot_delay_max_s: float = 60.0
    fan_delay_median_s: float = 1500.0
    activity_sigma: float = 1.4
    pool_hours: float = 48.0
    deleted_share: float = 0.01
    missing_user_share: float = 0.002
    note_tweet_share: float = 0.03
    withheld_share: float = 0.0005
    bot_bursts: tuple[tuple[str, int], ...] = (
        ("2025-03-10", 3),
        ("2025-04-14", 2),
        ("2025-05-19", 4),
    )
    russian_holidays: tuple[str, ...] = ("2025-05-01", "2025-05-09", "2025-06-12", "2025-11-04")

    def validate(self, actions: int, bluesky_share: float) -> None:
        """Raise :class:`ScenarioConfigError` when a parameter is out of range."""
        checks = [
            ("actions", actions >= 1000, "an integer of at least 1000", actions),
            ("bluesky_share", 0.0 < bluesky_share < 0.9, "a share in (0, 0.9)", bluesky_share),
            (
                "end",
                utc_ms(self.end) > utc_ms(self.start) + DAY_MS,
                "at least a day after start",
                self.end,
            ),
            ("pool_hours", self.pool_hours > 0, "a positive number of hours", self.pool_hours),
        ]
        lo, hi = self.bot_participation
        checks.append(
            ("bot_participation", 0 < lo <= hi <= 1, "a range in (0, 1]", self.bot_participation)
        )
        special = (
            self.bot_share
            + self.fan_share
            + self.news_share
            + self.breaking_share
            + self.hashtag_share
            + self.state_share
            + self.claim_share
        )
        checks.append(
            ("bot_share", special < 0.5, "such that all special shares sum below 0.5", special)
        )
        for name, ok, what, got in checks:
            if not ok:
                raise ScenarioConfigError(
                    name, f"`{name}` of ScenarioConfig must be {what}; got {got!r}."
                )


@dataclass(frozen=True)
class PlatformPlan:
    """Sizes for one platform, derived from the config and its share of the actions."""

    platform: str
    actions: int
    n_organic: int
    n_bots: int
    n_fans: int
    n_news: int
    n_state: int


@dataclass(frozen=True)
class Plan:
    """Resolved times (Unix ms) and per-platform sizes."""

    config: ScenarioConfig
    actions: int
    seed: int
    bluesky_share: float
    start: int
    end: int
    claim_start: int
    factcheck_at: int
    interview_at: int
    quake_at: int
    hashtag_from: int
    election_day: int
    platforms: tuple[PlatformPlan, ...] = field(default=())

    @property
    def hours(self) -> int:
        """Number of whole hours in the window."""
        return math.ceil((self.end - self.start) / HOUR_MS)


def make_plan(config: ScenarioConfig, actions: int, seed: int, bluesky_share: float) -> Plan:
    """Resolve ``config`` for ``actions`` total actions.

    Examples
    --------
    >>> p = make_plan(ScenarioConfig(), 1_000_000, 7, 0.15)
    >>> sum(pp.n_bots for pp in p.platforms)
    200
    """
    config.validate(actions, bluesky_share)
    n_bots = config.n_bots or int(min(2500, max(24, round(200 * math.sqrt(actions / 1e6)))))
    n_fans = config.n_fans or int(min(300, max(40, round(220 * (actions / 1e6) ** 0.25))))
    bsky_bots = max(6, min(n_bots // 2, round(n_bots * max(bluesky_share, 0.1) * 1.5)))
    platforms = []
    for name, share, bots in (
        ("x", 1.0 - bluesky_share, n_bots - bsky_bots),
        ("bluesky", bluesky_share, bsky_bots),
    ):
        acts = round(actions * share)
        fans = max(30, round(n_fans * (1.0 if name == "x" else 0.6)))
        platforms.append(
            PlatformPlan(
                platform=name,
                actions=acts,
                n_organic=max(300, acts // 18),
                n_bots=bots,
                n_fans=fans,
                n_news=6 if name == "x" else 3,
                n_state=3 if name == "x" else 1,
            )
        )
    claim = utc_ms(config.claim_start)
    hashtag_day = utc_ms(config.hashtag_day + "T00:00:00+09:00")
    return Plan(
        config=config,
        actions=actions,
        seed=seed,
        bluesky_share=bluesky_share,
        start=utc_ms(config.start),
        end=utc_ms(config.end),
        claim_start=claim,
        factcheck_at=claim + int(config.factcheck_delay_hours * HOUR_MS),
        interview_at=utc_ms(config.interview_at),
        quake_at=utc_ms(config.quake_at),
        hashtag_from=hashtag_day,
        election_day=utc_ms(config.election_day + "T00:00:00+09:00"),
        platforms=tuple(platforms),
    )
