"""Derived tables of the characterisation stage (migrations 20-29), every column documented.

Every row is keyed by the ``run_id`` of a ``characterize`` run, carries its evidence, and,
where it states an indicator, the innocent explanations that fit the same facts.
"""

from __future__ import annotations

from fimiscope.store.schema import C, Table

RUN_ID = C("run_id", "VARCHAR", "The `runs.run_id` of the characterize run.", not_null=True)
PLATFORM = C("platform", "VARCHAR", "Platform of the account or post.", not_null=True)
ACCOUNT_ID = C("account_id", "VARCHAR", "The account (`accounts.account_id`).", not_null=True)
GROUP_ID = C("group_id", "INTEGER", "The `coord_groups.group_id` of the coordination run.")

ACCOUNT_FEATURES = Table(
    "account_features",
    "Automation signals per active account (see `docs/characterize.md`, *Automation signals*).",
    (
        RUN_ID,
        PLATFORM,
        ACCOUNT_ID,
        GROUP_ID,
        C("n_actions", "BIGINT", "Timed actions: posts of every kind plus timed engagements."),
        C("n_posts", "BIGINT", "Rows in `posts` authored by the account."),
        C("active_days", "DOUBLE", "Days between first and last timed action (at least 1)."),
        C("rate_per_day", "DOUBLE", "n_actions / active_days."),
        C(
            "burstiness",
            "DOUBLE",
            "Goh-Barabasi burstiness (sd - mean) / (sd + mean) of"
            " inter-event times; NULL below 3 actions.",
        ),
        C(
            "iet_entropy",
            "DOUBLE",
            "Normalised entropy of log2-binned inter-event times (0 = one"
            " repeated gap, 1 = spread); NULL below 3 actions.",
        ),
        C("repost_share", "DOUBLE", "Share of the account's posts that are reposts."),
        C(
            "dup_text_share",
            "DOUBLE",
            "Share of its texts (posts, replies, quotes) whose normalised text"
            " also appears in another post; NULL without texts.",
        ),
        C(
            "hour_entropy",
            "DOUBLE",
            "Normalised entropy of its hour-of-day histogram (0 = one hour, 1 = uniform).",
        ),
        C(
            "age_days",
            "DOUBLE",
            "Account age at its first seen action, days; NULL without `created_at`.",
        ),
        C(
            "creation_burst_share",
            "DOUBLE",
            "Share of the other members of its group created within"
            " +-3 days of it; NULL outside groups.",
        ),
        C(
            "handle_digit_tail",
            "INTEGER",
            "Length of the run of digits that ends the handle (before any domain).",
        ),
        C(
            "default_handle",
            "BOOLEAN",
            "Handle is letters followed by >= 6 digits: the platform's suggested-name style.",
        ),
        C("default_profile", "BOOLEAN", "Default profile picture."),
        C("follower_ratio_log10", "DOUBLE", "log10((followers + 1) / (following + 1))."),
        C(
            "third_party_client_share",
            "DOUBLE",
            "Share of its posts sent from a client not in the"
            " first-party list; NULL without client data.",
        ),
        C(
            "clients",
            "VARCHAR",
            "Clients used, most frequent first, with counts (`name:n`, comma-separated).",
        ),
    ),
    key=("run_id", "platform", "account_id"),
)

ACCOUNT_AUTOMATION = Table(
    "account_automation",
    "Automation score per account: an indicator with each feature's contribution, never a verdict.",
    (
        RUN_ID,
        PLATFORM,
        ACCOUNT_ID,
        C("score", "DOUBLE", "Probability-like score in [0, 1]."),
        C("flagged", "BOOLEAN", "`score >= threshold` of the run."),
        C("method", "VARCHAR", "`heuristic-v1` (documented weights) or `model:<name>@<version>`."),
        C(
            "contributions",
            "JSON",
            "Feature -> contribution to the log-odds (heuristic or logistic"
            " model), or to the prediction (tree models: NULL).",
        ),
        C(
            "explanation",
            "VARCHAR",
            "The three strongest contributions in words, and the"
            " innocent explanations that fit them.",
        ),
    ),
    key=("run_id", "platform", "account_id"),
)

ACCOUNT_TIMEZONE = Table(
    "account_timezone",
    "Estimated UTC offset of each account with enough timed actions.",
    (
        RUN_ID,
        PLATFORM,
        ACCOUNT_ID,
        C("n_actions", "BIGINT", "Timed actions used."),
        C("offset_hours", "INTEGER", "Maximum-likelihood UTC offset in hours (-12..+14)."),
        C("ci_low", "INTEGER", "Lower end of the 95 % likelihood-profile interval (hours)."),
        C("ci_high", "INTEGER", "Upper end of the 95 % interval (hours)."),
        C("template", "VARCHAR", "Reference rhythm that fits best: `leisure` or `office`."),
        C("loglik", "DOUBLE", "Log-likelihood at the estimate."),
        C("profile", "JSON", "Offset -> log-likelihood minus the maximum (the profile)."),
    ),
    key=("run_id", "platform", "account_id"),
)

GROUP_TIMEZONE = Table(
    "group_timezone",
    "Estimated UTC offset of each coordinated group, from its members' pooled timed actions.",
    (
        RUN_ID,
        C("coordination_run_id", "VARCHAR", "The detect run the group comes from."),
        C("group_id", "INTEGER", "The group.", not_null=True),
        C("n_actions", "BIGINT", "Timed actions pooled."),
        C("offset_hours", "INTEGER", "Maximum-likelihood UTC offset (hours)."),
        C("ci_low", "INTEGER", "Lower end of the 95 % interval."),
        C("ci_high", "INTEGER", "Upper end of the 95 % interval."),
        C("template", "VARCHAR", "`leisure` or `office`."),
        C("loglik", "DOUBLE", "Log-likelihood at the estimate."),
        C("profile", "JSON", "Offset -> log-likelihood minus the maximum."),
        C("hour_of_week", "JSON", "168 counts by UTC hour of week (Monday 00:00 UTC = 0)."),
        C("main_language", "VARCHAR", "Most frequent post language of the group."),
        C(
            "holiday_check",
            "JSON",
            "Activity on the public holidays of candidate countries vs normal weekdays.",
        ),
        C(
            "foreign_working_day",
            "BOOLEAN",
            "Posts in the audience's language but keeps another country's working day.",
        ),
        C(
            "clock_svg",
            "VARCHAR",
            "Activity clock (24 h, local time at the estimate) as a self-contained SVG.",
        ),
    ),
    key=("run_id", "group_id"),
)

STATE_MEDIA_AMPLIFICATION = Table(
    "state_media_amplification",
    "Who amplified registry outlets, and how: one row per (account, outlet, channel).",
    (
        RUN_ID,
        PLATFORM,
        ACCOUNT_ID,
        GROUP_ID,
        C("outlet", "VARCHAR", "Outlet name as in the registry.", not_null=True),
        C("country", "VARCHAR", "Country of the outlet's state."),
        C("typology", "VARCHAR", "Registry typology code (SC, CaPu, CaPr, IP, ...)."),
        C(
            "state_controlled",
            "BOOLEAN",
            "Typology is SC (state-controlled); other typologies are"
            " reported, never counted as state-controlled.",
        ),
        C("channel", "VARCHAR", "`repost`, `quote`, `reply`, `link` or `mention`.", not_null=True),
        C("n", "BIGINT", "Actions of that channel."),
        C("first_at", "TIMESTAMPTZ", "First such action."),
        C("last_at", "TIMESTAMPTZ", "Last such action."),
        C(
            "min_delay_s",
            "DOUBLE",
            "Shortest delay after the outlet's post (reposts/quotes/replies), seconds.",
        ),
        C(
            "hop",
            "INTEGER",
            "1 = amplified the outlet directly; 2 = reposted a"
            " first amplifier's repost/quote of it.",
        ),
        C("example_post_id", "VARCHAR", "One of the account's posts that does it."),
    ),
    key=("run_id", "platform", "account_id", "outlet", "channel"),
)

STATE_MEDIA_CHAIN = Table(
    "state_media_chain",
    "How each amplified outlet's content spread: outlet -> first amplifiers -> wider spread.",
    (
        RUN_ID,
        C("outlet", "VARCHAR", "Outlet name as in the registry.", not_null=True),
        C("typology", "VARCHAR", "Registry typology code."),
        C(
            "stage",
            "VARCHAR",
            "`first` (first `k` amplifiers of each outlet post) or `wider` (the rest, and hop 2).",
            not_null=True,
        ),
        C("accounts", "BIGINT", "Distinct accounts at this stage."),
        C("actions", "BIGINT", "Reposts, quotes and replies at this stage."),
        C(
            "coordinated_share",
            "DOUBLE",
            "Share of the accounts that are coordinated-group members.",
        ),
        C(
            "domestic_share",
            "DOUBLE",
            "Share of the accounts whose own posts are mostly in the"
            " audience language (`audience_language`).",
        ),
        C(
            "median_delay_s",
            "DOUBLE",
            "Median delay after the outlet's post, seconds (hop 1 only).",
        ),
        C("groups", "JSON", "Group id -> accounts of that group at this stage."),
    ),
    key=("run_id", "outlet", "stage"),
)

POST_DISSEMINATION = Table(
    "post_dissemination",
    "Engagement of every post with enough timed engagement, and the anomalous-boost flag.",
    (
        RUN_ID,
        PLATFORM,
        C("post_id", "VARCHAR", "The engaged-with post.", not_null=True),
        C("author_id", "VARCHAR", "Its author."),
        C("n_engagements", "BIGINT", "Reposts, quotes, replies and likes (timed or not)."),
        C("n_timed", "BIGINT", "Engagements with a time."),
        C(
            "coordinated_share",
            "DOUBLE",
            "Share of all its engagement from members of coordinated groups.",
        ),
        C("automated_share", "DOUBLE", "Share from automation-flagged accounts."),
        C("burst_count", "BIGINT", "Most timed engagements in one sliding window."),
        C("burst_start", "TIMESTAMPTZ", "Start of that window."),
        C(
            "burst_expected",
            "DOUBLE",
            "Expected count in a window from the post's own rate outside it.",
        ),
        C("burst_p", "DOUBLE", "Poisson upper tail, scan-corrected (times the number of windows)."),
        C(
            "burst_inauthentic_share",
            "DOUBLE",
            "Share of the burst from coordinated or automation-flagged accounts.",
        ),
        C(
            "burst_young_share",
            "DOUBLE",
            "Share of the burst from accounts younger than `young_days`.",
        ),
        C(
            "burst_iet_cv",
            "DOUBLE",
            "Coefficient of variation of inter-arrival times inside the burst.",
        ),
        C(
            "flagged",
            "BOOLEAN",
            "Burst significant and from inauthentic or young accounts (see the rule in the docs).",
        ),
        C(
            "evidence",
            "JSON",
            "Timeline by minute and kind, burst members, the rule's terms, innocent explanations.",
        ),
    ),
    key=("run_id", "platform", "post_id"),
)

GROUP_DOSSIER = Table(
    "group_dossier",
    "Foreign-origin indicator summary per coordinated group:"
    " indicators, strength, innocent explanations.",
    (
        RUN_ID,
        C("coordination_run_id", "VARCHAR", "The detect run the group comes from."),
        C("group_id", "INTEGER", "The group.", not_null=True),
        C("size", "INTEGER", "Members."),
        C(
            "indicators",
            "JSON",
            "List of {name, value, strength"
            " (none/weak/moderate/strong), evidence, innocent_explanations}.",
        ),
        C(
            "summary",
            "VARCHAR",
            "Plain-language summary; states that indicators are not attribution.",
        ),
    ),
    key=("run_id", "group_id"),
)

FIGURES = Table(
    "characterize_figures",
    "Figures of a run, ready to embed (activity clocks).",
    (
        RUN_ID,
        C("name", "VARCHAR", "Figure name, e.g. `clock-group-0`.", not_null=True),
        C("mime", "VARCHAR", "`image/svg+xml` or `image/png`."),
        C("content", "BLOB", "The figure's bytes."),
    ),
    key=("run_id", "name"),
)

TABLES = (
    ACCOUNT_FEATURES,
    ACCOUNT_AUTOMATION,
    ACCOUNT_TIMEZONE,
    GROUP_TIMEZONE,
    STATE_MEDIA_AMPLIFICATION,
    STATE_MEDIA_CHAIN,
    POST_DISSEMINATION,
    GROUP_DOSSIER,
    FIGURES,
)

MIGRATIONS = [
    (
        20,
        "characterize: features, automation, time zones, state media, dissemination, dossier",
        list(TABLES),
        [],
    ),
]
