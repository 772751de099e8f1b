"""Derived tables of narratives, trends and claims (migrations 30-39), every column documented."""

from __future__ import annotations

from fimiscope.store.schema import C, Table

RUN_ID = C("run_id", "VARCHAR", "The `runs.run_id` of the run that wrote the row.", not_null=True)
NARRATIVE_ID = C("narrative_id", "INTEGER", "Narrative number within its run (largest first).")

NARRATIVES = Table(
    "narratives",
    "Narratives (clusters of posts with similar wording or meaning) of a `narratives` run.",
    (
        RUN_ID,
        C(
            "narrative_id",
            "INTEGER",
            "Narrative number within the run (largest first).",
            not_null=True,
        ),
        C("label", "VARCHAR", "Its top keywords joined by ` / `."),
        C("keywords", "JSON", "List of `[term, c-TF-IDF weight]`, strongest first."),
        C("languages", "JSON", "Language code -> original posts (script-based for `und`)."),
        C("platforms", "JSON", "Platform -> posts including reposts."),
        C("n_texts", "BIGINT", "Distinct normalised texts embedded."),
        C("n_posts", "BIGINT", "Original posts, quotes and replies (and news articles)."),
        C("n_reposts", "BIGINT", "Reposts of those posts (spread, not new text)."),
        C("n_accounts", "BIGINT", "Distinct accounts that posted or reposted."),
        C("first_at", "TIMESTAMPTZ", "Earliest post."),
        C("last_at", "TIMESTAMPTZ", "Latest post or repost."),
        C("peak_at", "TIMESTAMPTZ", "Start of the busiest hour (posts + reposts)."),
        C(
            "coordinated_share",
            "DOUBLE",
            "Share of posts + reposts by members of the latest coordination run's groups.",
        ),
        C(
            "automated_share",
            "DOUBLE",
            "Share of posts + reposts by accounts the latest characterize run flags as automated.",
        ),
        C(
            "state_media_share",
            "DOUBLE",
            "Share of posts + reposts by state-controlled outlets (registry handles or domains).",
        ),
        C(
            "representatives",
            "JSON",
            "Up to 5 `{platform, post_id, text, spread}`: the most spread texts nearest "
            "the centre.",
        ),
    ),
    key=("run_id", "narrative_id"),
)

NARRATIVE_POSTS = Table(
    "narrative_posts",
    "The narrative of every original post of a run; a repost belongs to its original's narrative.",
    (
        RUN_ID,
        C("platform", "VARCHAR", "Platform of the post.", not_null=True),
        C("post_id", "VARCHAR", "The post (not a repost).", not_null=True),
        NARRATIVE_ID,
        C("lang", "VARCHAR", "Language (the post's own, else from its script)."),
        C("similarity", "DOUBLE", "Cosine of its text's vector with the narrative centre."),
    ),
    key=("run_id", "platform", "post_id"),
)

NARRATIVE_VOLUME = Table(
    "narrative_volume",
    "Hourly volume of every narrative of a run.",
    (
        RUN_ID,
        C("narrative_id", "INTEGER", "The narrative.", not_null=True),
        C("bucket", "TIMESTAMPTZ", "Start of the hour (UTC).", not_null=True),
        C("posts", "BIGINT", "Original posts, quotes and replies in the hour."),
        C("reposts", "BIGINT", "Reposts in the hour."),
        C("accounts", "BIGINT", "Distinct accounts in the hour."),
    ),
    key=("run_id", "narrative_id", "bucket"),
)

TRENDS = Table(
    "trends",
    "Bursts: a narrative or hashtag rising abnormally against its own baseline (a `trends` run).",
    (
        RUN_ID,
        C("kind", "VARCHAR", "`narrative` or `hashtag`.", not_null=True),
        C("key", "VARCHAR", "Narrative id (as text) or the folded hashtag.", not_null=True),
        C("narratives_run_id", "VARCHAR", "The narratives run whose narratives were watched."),
        C("narrative_id", "INTEGER", "The narrative (kind `narrative`)."),
        C("label", "VARCHAR", "Narrative label, or `#tag`."),
        C(
            "flagged_at",
            "TIMESTAMPTZ",
            "End of the first window that crossed the threshold.",
            not_null=True,
        ),
        C("window_start", "TIMESTAMPTZ", "Start of that window."),
        C("count", "BIGINT", "Posts + reposts in that window."),
        C("expected", "DOUBLE", "Expected count from the series' own trailing baseline."),
        C("p_value", "DOUBLE", "Poisson upper tail of `count` given `expected`."),
        C("first_seen_at", "TIMESTAMPTZ", "First activity of the series in the examined span."),
        C("delay_s", "DOUBLE", "Seconds from the series' first activity to `flagged_at`."),
        C("episode_end", "TIMESTAMPTZ", "End of the last consecutive flagged window."),
        C("peak_count", "BIGINT", "Largest window count during the episode."),
    ),
    key=("run_id", "kind", "key", "flagged_at"),
)

CLAIMS = Table(
    "claims",
    "Fact-checked claims (ClaimReview JSON-LD or a claims CSV); loading again updates them.",
    (
        C("claim_id", "VARCHAR", "SHA-256 prefix of review URL and claim text.", not_null=True),
        C("text", "VARCHAR", "The claim as reviewed (`claimReviewed`)."),
        C("lang", "VARCHAR", "`inLanguage`, else from the text's script."),
        C("verdict", "VARCHAR", "`false`, `misleading`, `unproven`, `true` or `other`."),
        C("is_false", "BOOLEAN", "Verdict `false` or `misleading`: a known-false claim."),
        C("rating_text", "VARCHAR", "Rating as written (`alternateName`, e.g. `誤り`)."),
        C("rating_value", "DOUBLE", "`ratingValue`, when numeric."),
        C("best_rating", "DOUBLE", "`bestRating`."),
        C("worst_rating", "DOUBLE", "`worstRating`."),
        C("reviewer", "VARCHAR", "Fact-checking organisation (`author.name`)."),
        C("review_url", "VARCHAR", "The fact-check's URL."),
        C("review_date", "TIMESTAMPTZ", "`datePublished` of the review."),
        C("claimant", "VARCHAR", "Who made the claim (`itemReviewed.author.name`)."),
        C("claim_date", "TIMESTAMPTZ", "When the claim was made (`itemReviewed.datePublished`)."),
        C(
            "appearances",
            "JSON",
            "URLs where the claim appeared (`appearance`, `firstAppearance`).",
        ),
        C("source_path", "VARCHAR", "File it was loaded from."),
        C("loaded_at", "TIMESTAMPTZ", "When it was loaded (UTC)."),
    ),
    key=("claim_id",),
)

CLAIM_MATCHES = Table(
    "claim_matches",
    "Posts that state a claim, with the similarity score (a `claims` run).",
    (
        RUN_ID,
        C("claim_id", "VARCHAR", "The `claims.claim_id`.", not_null=True),
        C("platform", "VARCHAR", "Platform of the post.", not_null=True),
        C("post_id", "VARCHAR", "The matching original post.", not_null=True),
        C("account_id", "VARCHAR", "Its author."),
        C("created_at", "TIMESTAMPTZ", "When it was posted."),
        C("lang", "VARCHAR", "Its language."),
        C("score", "DOUBLE", "Cosine similarity of post and claim (cross-lingual embedder)."),
        C("reposts", "BIGINT", "Reposts of the post (its spread)."),
        C("narrative_id", "INTEGER", "Its narrative in the latest narratives run, if any."),
    ),
    key=("run_id", "claim_id", "platform", "post_id"),
)

TABLES = (NARRATIVES, NARRATIVE_POSTS, NARRATIVE_VOLUME, TRENDS, CLAIMS, CLAIM_MATCHES)

MIGRATIONS = [
    (
        30,
        "narratives: narratives, narrative posts, volume, trends, claims, claim matches",
        list(TABLES),
        [],
    ),
]
