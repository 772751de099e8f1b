"""Table definitions as data: the DDL, the migrations and ``docs/schema.md`` all come from here.

A :class:`Table` lists its columns with their DuckDB type and a sentence of documentation.
Subsystems (coordination, characterisation, ...) declare their own tables in their own
``schema`` module; :mod:`fimiscope.store.migrations` orders them into numbered migrations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fimiscope._sql import quote_ident


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    doc: str
    not_null: bool = False


@dataclass(frozen=True)
class Table:
    name: str
    doc: str
    columns: tuple[Column, ...]
    key: tuple[str, ...] = ()
    """The logical key: unique in practice (kept unique by ingest), documented, not indexed."""
    indexes: tuple[tuple[str, ...], ...] = field(default=())

    def ddl(self) -> list[str]:
        cols = ",\n  ".join(
            f"{quote_ident(c.name)} {c.type}{' NOT NULL' if c.not_null else ''}"
            for c in self.columns
        )
        out = [f"CREATE TABLE IF NOT EXISTS {quote_ident(self.name)} (\n  {cols}\n)"]
        for idx in self.indexes:
            iname = quote_ident(f"idx_{self.name}_{'_'.join(idx)}")
            out.append(
                f"CREATE INDEX IF NOT EXISTS {iname} ON {quote_ident(self.name)} "
                f"({', '.join(quote_ident(c) for c in idx)})"
            )
        return out

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def C(name: str, type_: str, doc: str, *, not_null: bool = False) -> Column:
    return Column(name, type_, doc, not_null)


PLATFORM = C(
    "platform",
    "VARCHAR",
    "Platform: `x`, `bluesky`, `telegram`, `line`, or a user-given name.",
    not_null=True,
)
SOURCE_ID = C("source_id", "BIGINT", "The `sources.source_id` of the file this row came from.")

SCHEMA_META = Table(
    "schema_meta",
    "One row per applied migration.",
    (
        C("version", "INTEGER", "Migration number.", not_null=True),
        C("description", "VARCHAR", "What the migration did."),
        C("applied_at", "TIMESTAMPTZ", "When it was applied (UTC)."),
        C("fimiscope_version", "VARCHAR", "fimiscope version that applied it."),
    ),
    key=("version",),
)

SOURCES = Table(
    "sources",
    "One row per ingested file (or stream). Re-ingesting the same bytes is a no-op keyed by `sha256`.",
    (
        C("source_id", "BIGINT", "Surrogate key.", not_null=True),
        C("path", "VARCHAR", "Path as given when ingested (absolute)."),
        C(
            "sha256",
            "VARCHAR",
            "SHA-256 of the file's bytes as stored (compressed if it was).",
            not_null=True,
        ),
        C("format", "VARCHAR", "Format name from the format registry.", not_null=True),
        C("size_bytes", "BIGINT", "File size in bytes."),
        C("records", "BIGINT", "Records read (lines, messages or rows, by format)."),
        C("posts", "BIGINT", "Posts written (new, after de-duplication)."),
        C("accounts", "BIGINT", "Accounts written (new)."),
        C("engagements", "BIGINT", "Engagements written (new)."),
        C("rejected", "BIGINT", "Records sent to `rejects`."),
        C("cursor", "VARCHAR", "Resumable position for streams (Jetstream: the last `time_us`)."),
        C("ingested_at", "TIMESTAMPTZ", "When the ingest committed (UTC)."),
        C("run_id", "VARCHAR", "The `runs.run_id` of the ingest."),
    ),
    key=("source_id",),
)

ACCOUNTS = Table(
    "accounts",
    "One row per platform account. The first ingested profile snapshot is kept; later files fill only missing values.",
    (
        PLATFORM,
        C(
            "account_id",
            "VARCHAR",
            "Platform id (X user id, Bluesky DID, Telegram `user123`/`channel123`, or a hashed id from an IO archive).",
            not_null=True,
        ),
        C("handle", "VARCHAR", "Handle as written (`username`, `screen_name`, Bluesky handle)."),
        C("handle_norm", "VARCHAR", "Handle folded: NFKC, lower case, no leading `@`."),
        C("display_name", "VARCHAR", "Display name as written."),
        C("description", "VARCHAR", "Profile text as written."),
        C("location", "VARCHAR", "Self-declared location."),
        C("created_at", "TIMESTAMPTZ", "Account creation time (UTC), when the export gives it."),
        C("followers_count", "BIGINT", "Followers at collection time."),
        C("following_count", "BIGINT", "Accounts followed at collection time."),
        C("posts_count", "BIGINT", "Posts at collection time (`tweet_count`, `statuses_count`)."),
        C("verified", "BOOLEAN", "Verified badge at collection time."),
        C("protected", "BOOLEAN", "Protected / private account."),
        C("default_profile_image", "BOOLEAN", "Profile picture is the platform default."),
        C("profile_image_url", "VARCHAR", "Profile picture URL."),
        C("lang", "VARCHAR", "Declared account language, where exported."),
        C(
            "first_seen_at",
            "TIMESTAMPTZ",
            "Earliest action of the account seen in any ingested file.",
        ),
        SOURCE_ID,
    ),
    key=("platform", "account_id"),
)

POSTS = Table(
    "posts",
    "One row per post, repost, quote or reply. A repost is a row of its own, pointing at what it reposts.",
    (
        PLATFORM,
        C(
            "post_id",
            "VARCHAR",
            "Platform id (X tweet id, Bluesky AT-URI, Telegram `channel/msg`).",
            not_null=True,
        ),
        C(
            "account_id",
            "VARCHAR",
            "Author's `accounts.account_id`; NULL when the export hides it.",
        ),
        C("created_at", "TIMESTAMPTZ", "Posting time (UTC); NULL when unknown."),
        C(
            "kind",
            "VARCHAR",
            "`post`, `repost`, `quote` or `reply` (a reply that also quotes is a `reply`; see `post_refs`).",
            not_null=True,
        ),
        C(
            "ref_post_id",
            "VARCHAR",
            "The reposted, quoted or replied-to post (the primary reference).",
        ),
        C("ref_account_id", "VARCHAR", "Author of `ref_post_id`, when known."),
        C("conversation_id", "VARCHAR", "Thread / conversation root."),
        C(
            "text",
            "VARCHAR",
            "Text exactly as exported (full `note_tweet` text when the export has it).",
        ),
        C(
            "text_norm",
            "VARCHAR",
            "Text normalised: NFKC (width folding), lower case, whitespace collapsed.",
        ),
        C("lang", "VARCHAR", "Language code given by the platform or the post."),
        C("client", "VARCHAR", "Posting client (`source` on X), when exported."),
        C("like_count", "BIGINT", "Likes reported by the platform at collection time."),
        C("repost_count", "BIGINT", "Reposts reported at collection time."),
        C("reply_count", "BIGINT", "Replies reported at collection time."),
        C("quote_count", "BIGINT", "Quotes reported at collection time."),
        C("view_count", "BIGINT", "Impressions / views reported at collection time."),
        C(
            "is_truncated",
            "BOOLEAN",
            "The export's text is cut short and no full text was available.",
        ),
        C(
            "is_stub",
            "BOOLEAN",
            "Known only as a reference (e.g. a deleted or not-included tweet); no content.",
        ),
        C("withheld", "VARCHAR", "Withholding notice (country codes), if any."),
        C("url", "VARCHAR", "Permalink, when derivable."),
        SOURCE_ID,
    ),
    key=("platform", "post_id"),
)

POST_REFS = Table(
    "post_refs",
    "Every reference of a post to another post (a reply that quotes has two rows).",
    (
        PLATFORM,
        C("post_id", "VARCHAR", "The referring post.", not_null=True),
        C("ref_type", "VARCHAR", "`repost`, `quote` or `reply`.", not_null=True),
        C("ref_post_id", "VARCHAR", "The referenced post.", not_null=True),
        C("ref_account_id", "VARCHAR", "Its author, when known."),
    ),
    key=("platform", "post_id", "ref_type", "ref_post_id"),
)

ENGAGEMENTS = Table(
    "engagements",
    "Actions that have no post of their own: likes, follows, and other reactions.",
    (
        PLATFORM,
        C("account_id", "VARCHAR", "Who acted.", not_null=True),
        C("kind", "VARCHAR", "`like`, `follow`, or another reaction name.", not_null=True),
        C("target_post_id", "VARCHAR", "The post acted on (likes)."),
        C(
            "target_account_id",
            "VARCHAR",
            "The account acted on (follows; author of the liked post when known).",
        ),
        C("at", "TIMESTAMPTZ", "When (UTC); NULL when the platform does not say (X likes)."),
        SOURCE_ID,
    ),
    key=("platform", "account_id", "kind", "target_post_id", "target_account_id"),
)

POST_URLS = Table(
    "post_urls",
    "Links in posts. Empty or unparseable URLs are not stored.",
    (
        PLATFORM,
        C("post_id", "VARCHAR", "The post.", not_null=True),
        C("position", "INTEGER", "Order of the link in the post (0-based).", not_null=True),
        C("url", "VARCHAR", "Link as written (e.g. the `t.co` short link)."),
        C("expanded_url", "VARCHAR", "Expanded link from the export, when given."),
        C(
            "url_norm",
            "VARCHAR",
            "Normalised link (see `docs/methods.md`); `t.co` kept when not expanded.",
            not_null=True,
        ),
        C("domain", "VARCHAR", "Host of `url_norm` without `www.`."),
    ),
    key=("platform", "post_id", "position"),
)

POST_HASHTAGS = Table(
    "post_hashtags",
    "Hashtags in posts.",
    (
        PLATFORM,
        C("post_id", "VARCHAR", "The post.", not_null=True),
        C("position", "INTEGER", "Order in the post (0-based).", not_null=True),
        C("tag", "VARCHAR", "Tag as written, without `#`."),
        C(
            "tag_norm",
            "VARCHAR",
            "Tag folded: NFKC (full-width `＃` and letters), lower case.",
            not_null=True,
        ),
    ),
    key=("platform", "post_id", "position"),
)

POST_MENTIONS = Table(
    "post_mentions",
    "Accounts mentioned in posts.",
    (
        PLATFORM,
        C("post_id", "VARCHAR", "The post.", not_null=True),
        C("position", "INTEGER", "Order in the post (0-based).", not_null=True),
        C("handle", "VARCHAR", "Handle as written, without `@`."),
        C("handle_norm", "VARCHAR", "Handle folded like `accounts.handle_norm`."),
        C("mentioned_account_id", "VARCHAR", "Mentioned account's id, when the export gives it."),
    ),
    key=("platform", "post_id", "position"),
)

POST_MEDIA = Table(
    "post_media",
    "Media attached to posts.",
    (
        PLATFORM,
        C("post_id", "VARCHAR", "The post.", not_null=True),
        C("position", "INTEGER", "Order in the post (0-based).", not_null=True),
        C(
            "media_key",
            "VARCHAR",
            "Platform media key or content id (X `media_key`, Bluesky blob CID).",
        ),
        C("media_type", "VARCHAR", "`photo`, `video`, `animated_gif`, ..."),
        C("url", "VARCHAR", "Media URL or preview URL."),
        C("phash", "VARCHAR", "Perceptual hash, when computed from the file."),
    ),
    key=("platform", "post_id", "position"),
)

REJECTS = Table(
    "rejects",
    "Records that could not be ingested, with where they were and why.",
    (
        C("source_id", "BIGINT", "The file (`sources.source_id`)."),
        C("path", "VARCHAR", "The file's path."),
        C("format", "VARCHAR", "The format it was read as."),
        C("line", "BIGINT", "1-based line number (line-based formats), else NULL."),
        C(
            "byte_offset",
            "BIGINT",
            "Byte offset of the record in the (uncompressed) stream, when known.",
        ),
        C("location", "VARCHAR", "Where inside the record (e.g. `data[3].created_at`)."),
        C("reason", "VARCHAR", "Why it was rejected.", not_null=True),
        C("excerpt", "VARCHAR", "The first 500 characters of the raw record."),
        C("rejected_at", "TIMESTAMPTZ", "When (UTC)."),
    ),
)

RUNS = Table(
    "runs",
    "One row per stage run: what ran, with which parameters, on which input, by which version.",
    (
        C("run_id", "VARCHAR", "Unique id (`<stage>-<UTC time>-<random>`).", not_null=True),
        C("stage", "VARCHAR", "`ingest`, `detect`, `characterize`, ...", not_null=True),
        C("parameters", "JSON", "Every parameter, defaults included."),
        C("seed", "BIGINT", "Random seed, when the stage is random."),
        C("fimiscope_version", "VARCHAR", "fimiscope version."),
        C(
            "input_digest",
            "VARCHAR",
            "SHA-256 over the inputs (file hashes, or the store's source hashes).",
        ),
        C("status", "VARCHAR", "`running`, `ok` or `failed`."),
        C("message", "VARCHAR", "Summary or error message."),
        C("started_at", "TIMESTAMPTZ", "Start (UTC)."),
        C("finished_at", "TIMESTAMPTZ", "End (UTC)."),
    ),
    key=("run_id",),
)

CORE_TABLES: tuple[Table, ...] = (
    SCHEMA_META,
    SOURCES,
    ACCOUNTS,
    POSTS,
    POST_REFS,
    ENGAGEMENTS,
    POST_URLS,
    POST_HASHTAGS,
    POST_MENTIONS,
    POST_MEDIA,
    REJECTS,
    RUNS,
)

CANONICAL_TABLES: tuple[Table, ...] = (
    ACCOUNTS,
    POSTS,
    POST_REFS,
    ENGAGEMENTS,
    POST_URLS,
    POST_HASHTAGS,
    POST_MENTIONS,
    POST_MEDIA,
)
"""The tables an ingest writes (besides ``sources`` and ``rejects``)."""
