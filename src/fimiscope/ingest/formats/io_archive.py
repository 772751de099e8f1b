"""X (Twitter) information-operations archives: the CSV files of state-backed accounts that
Twitter's transparency centre published with each takedown (2018-2021).

Two files per campaign: ``*_tweets_csv_hashed.csv`` (one row per tweet, the author's profile
repeated on every row) and ``*_users_csv_hashed.csv`` (one row per account). Quirks handled:
ids and names of accounts with few followers are replaced by 64-hex hashes; ``tweet_time``
is UTC to the minute (``2019-03-01 14:05``); ``is_retweet`` is ``True``/``False``; list cells
are Python-list strings (``['a', 'b']``, ``[]``); ``latitude``/``longitude`` say ``absent``;
tweet text may hold line breaks inside quotes; some releases add columns (``poll_choices``).
"""

from __future__ import annotations

import string
from collections.abc import Callable
from datetime import datetime

from fimiscope.errors import FormatMismatchError
from fimiscope.ingest.formats.generic import (
    as_bool,
    as_count,
    csv_like,
    csv_records,
    parse_list,
)
from fimiscope.ingest.normalise import parse_time
from fimiscope.ingest.registry import register
from fimiscope.ingest.sink import RECORD_ERRORS, BadRecord, Sink
from fimiscope.ingest.source import SourceFile

PLATFORM = "x"
TWEET_REQUIRED = ("tweetid", "userid", "tweet_time")
USER_REQUIRED = ("userid",)
_USERS_FILE = frozenset({"userid", "user_screen_name", "account_creation_date"})
_HEX = frozenset(string.hexdigits)

Row = Callable[[str], str]


def is_hashed(value: str) -> bool:
    """A 64-hex SHA-256 digest, as the archives write for small accounts' ids and names."""
    return len(value) == 64 and _HEX.issuperset(value)


def _id(value: str) -> str | None:
    # Some re-published copies went through pandas, which writes ids of gappy columns as floats.
    if value.endswith(".0") and value[:-2].isdigit():
        return value[:-2]
    return value or None


def _time(value: str, column: str) -> datetime | None:
    try:
        return parse_time(value)
    except ValueError as exc:
        raise BadRecord(f"bad {column} {value!r}", column) from exc


class XInfoOpsArchive:
    """The tweets or users CSV of an X information-operations archive.

    Tweets rows give a post (a ``repost`` of ``retweet_tweetid``, a ``reply`` to
    ``in_reply_to_tweetid`` or a ``quote`` of ``quoted_tweet_tweetid``), its author's profile,
    stubs for the posts it refers to, and its hashtags, links and mentions. Users rows give
    accounts only. Hashed ids are stored as they are: they join within a release.
    """

    name = "io-archive"
    platform = PLATFORM
    description = "an X information-operations archive CSV"
    expected = (
        "the tweets CSV (header with tweetid, userid, tweet_time, ...) or the users CSV "
        "(userid, user_screen_name, account_creation_date, ...) of a Twitter "
        "information-operations release"
    )

    def sniff(self, source: SourceFile) -> float:
        fields = csv_like(source.head, ",")
        if fields is None:
            return 0.0
        names = {f.strip().lower() for f in fields}
        if names.issuperset(TWEET_REQUIRED):
            return 0.95
        if "tweetid" not in names and names.issuperset(_USERS_FILE):
            return 0.9
        return 0.0

    def parse(self, source: SourceFile, sink: Sink) -> None:
        records = csv_records(source)
        header = next(records, None)
        if header is None or header.fields is None:
            raise FormatMismatchError(
                source.path, f"no readable CSV header; expected {self.expected}"
            )
        index = {name.strip().lower(): i for i, name in reversed(list(enumerate(header.fields)))}
        tweets = "tweetid" in index
        missing = [c for c in (TWEET_REQUIRED if tweets else USER_REQUIRED) if c not in index]
        if missing:
            raise FormatMismatchError(
                source.path,
                f"the header lacks {', '.join(missing)}; columns present: "
                + ", ".join(repr(f) for f in header.fields[:40]),
            )
        width = len(header.fields)
        seen: set[str] = set()  # accounts whose profile is already staged
        for rec in records:
            done = None
            with sink.record(line=rec.line, byte_offset=rec.offset) as scope:
                try:
                    fields = rec.fields
                    if fields is None:
                        raise BadRecord(rec.error or "unreadable record")
                    if len(fields) != width:
                        raise BadRecord(
                            f"expected {width} fields, got {len(fields)} "
                            "(a truncated or misquoted record)"
                        )
                    row = _getter(fields, index)
                    uid = _account(row, sink, seen)
                    if tweets:
                        _tweet(row, uid, sink)
                    done = uid
                except RECORD_ERRORS:
                    scope.excerpt = rec.excerpt
                    raise
            if done is not None:
                seen.add(done)


def _getter(fields: list[str], index: dict[str, int]) -> Row:
    def get(column: str) -> str:
        i = index.get(column)
        return "" if i is None else fields[i]

    return get


def _account(row: Row, sink: Sink, seen: set[str]) -> str:
    uid = _id(row("userid"))
    if not uid:
        raise BadRecord("no userid", "userid")
    if uid in seen:
        return uid
    sink.account(
        PLATFORM,
        uid,
        handle=row("user_screen_name") or None,
        display_name=row("user_display_name") or None,
        description=row("user_profile_description") or None,
        location=row("user_reported_location") or None,
        created_at=_time(row("account_creation_date"), "account_creation_date"),
        followers_count=_count(row, "follower_count"),
        following_count=_count(row, "following_count"),
        lang=row("account_language") or None,
    )
    return uid


def _tweet(row: Row, uid: str, sink: Sink) -> None:
    tid = _id(row("tweetid"))
    if not tid or not tid.isdigit():
        raise BadRecord(f"tweetid is not a tweet id: {row('tweetid')[:40]!r}", "tweetid")
    try:
        retweet = as_bool(row("is_retweet"))
    except ValueError as exc:
        raise BadRecord(str(exc), "is_retweet") from exc
    reply_to, reply_user = _id(row("in_reply_to_tweetid")), _id(row("in_reply_to_userid"))
    quoted = _id(row("quoted_tweet_tweetid"))
    if retweet:
        kind, ref, ref_user = "repost", _id(row("retweet_tweetid")), _id(row("retweet_userid"))
    elif reply_to:
        kind, ref, ref_user = "reply", reply_to, reply_user
    elif quoted:
        kind, ref, ref_user = "quote", quoted, None
    else:
        kind, ref, ref_user = "post", None, None
    handle = row("user_screen_name")
    sink.post(
        PLATFORM,
        tid,
        account_id=uid,
        created_at=_time(row("tweet_time"), "tweet_time"),
        kind=kind,
        ref_post_id=ref,
        ref_account_id=ref_user,
        text=row("tweet_text"),
        lang=row("tweet_language") or None,
        client=row("tweet_client_name") or None,
        like_count=_count(row, "like_count"),
        repost_count=_count(row, "retweet_count"),
        reply_count=_count(row, "reply_count"),
        quote_count=_count(row, "quote_count"),
        url=f"https://x.com/{'i/web' if not handle or is_hashed(handle) else handle}/status/{tid}",
    )
    if ref:
        # The target is known only by id here; a full copy elsewhere replaces the stub.
        sink.post(PLATFORM, ref, account_id=ref_user, created_at=None, is_stub=True)
    if kind == "reply" and quoted:
        sink.ref(PLATFORM, tid, "quote", quoted)
        sink.post(PLATFORM, quoted, account_id=None, created_at=None, is_stub=True)
    _entities(row, tid, sink)


def _entities(row: Row, tid: str, sink: Sink) -> None:
    for i, tag in enumerate(_list(row, "hashtags")):
        sink.hashtag(PLATFORM, tid, i, tag.lstrip("#＃"))
    for i, url in enumerate(_list(row, "urls")):
        sink.url(PLATFORM, tid, i, url)
    for i, who in enumerate(_list(row, "user_mentions")):
        # The data dictionary lists mentioned user ids (hashed for small accounts); some
        # re-published copies have screen names instead.
        if who.isdigit() or is_hashed(who):
            sink.mention(PLATFORM, tid, i, None, who)
        else:
            sink.mention(PLATFORM, tid, i, who.lstrip("@＠"))


def _count(row: Row, column: str) -> int | None:
    try:
        return as_count(row(column))
    except ValueError as exc:
        raise BadRecord(f"bad {column} {row(column)[:40]!r}", column) from exc


def _list(row: Row, column: str) -> list[str]:
    try:
        return parse_list(row(column))
    except BadRecord as exc:
        raise BadRecord(str(exc), column) from exc


register(XInfoOpsArchive())
