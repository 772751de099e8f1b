"""The fastest path for X API v2 JSON Lines of response pages: Arrow's JSON reader and Arrow
compute, with no per-record Python and no SQL.

:func:`stage_block` turns one line-aligned block of the file into exactly the staging rows that
the DuckDB path (:mod:`~fimiscope.ingest.formats.x_v2_sql`) and the Python parser
(:class:`~fimiscope.ingest.formats.x_v2.XApiV2`) produce for clean pages. It reads only the
fields the store keeps, against a fixed schema, so anything off that schema (a number where an
id string belongs, a key given twice, a line that is not an object, invalid JSON or UTF-8)
fails the whole block, and it returns ``None``. So does every irregularity the DuckDB path
declines: a page without ``data``, an item without an id, a time that is not X's own
``YYYY-MM-DDTHH:MM:SS[.ffffff]Z``, an unknown, empty or repeated reference, ids repeated inside
a page's ``includes``. The caller then hands the block to the DuckDB path, and that one to the
Python parser, which quarantines bad records with their line numbers. Tests check that the
three paths give identical stores.

A block is parsed in one piece, without threads of its own: the caller runs two blocks at
once (Arrow releases the GIL).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from fimiscope.ingest.sink import STAGE_SCHEMAS

try:
    from fimiscope.ingest import _cjson
except ImportError:  # not compiled (no C compiler at install): Arrow's reader
    _cjson = None  # type: ignore[assignment]

_S = pa.string()
_I = pa.int64()
_B = pa.bool_()
_TS = pa.timestamp("us", tz="UTC")

_TWEET_METRICS = ("retweet_count", "reply_count", "like_count", "quote_count", "impression_count")
_USER_METRICS = ("followers_count", "following_count", "tweet_count")


def _metrics(*names: str) -> pa.DataType:
    return pa.struct([(n, _I) for n in names])


_ENTITIES = pa.struct(
    [
        ("urls", pa.list_(pa.struct([("url", _S), ("expanded_url", _S), ("unwound_url", _S)]))),
        ("hashtags", pa.list_(pa.struct([("tag", _S)]))),
        ("mentions", pa.list_(pa.struct([("username", _S), ("id", _S)]))),
    ]
)
_TWEET = [
    ("id", _S),
    ("text", _S),
    ("author_id", _S),
    ("created_at", _S),
    ("conversation_id", _S),
    ("lang", _S),
    ("source", _S),
    ("in_reply_to_user_id", _S),
    ("referenced_tweets", pa.list_(pa.struct([("type", _S), ("id", _S)]))),
    ("entities", _ENTITIES),
    ("attachments", pa.struct([("media_keys", pa.list_(_S))])),
    ("note_tweet", pa.struct([("text", _S), ("entities", _ENTITIES)])),
    ("withheld", pa.struct([("country_codes", pa.list_(_S))])),
]
_USER = [
    ("username", _S),
    ("name", _S),
    ("description", _S),
    ("location", _S),
    ("verified", _B),
    ("protected", _B),
    ("profile_image_url", _S),
]
_MEDIA = pa.struct([("media_key", _S), ("type", _S), ("url", _S), ("preview_image_url", _S)])
# `data` holds tweets, or users on the liking-users / retweeted-by / follows endpoints.
SCHEMA = pa.schema(
    [
        (
            "data",
            pa.list_(
                pa.struct(
                    [*_TWEET, ("public_metrics", _metrics(*_TWEET_METRICS, *_USER_METRICS)), *_USER]
                )
            ),
        ),
        (
            "includes",
            pa.struct(
                [
                    (
                        "users",
                        pa.list_(
                            pa.struct(
                                [
                                    ("id", _S),
                                    ("created_at", _S),
                                    ("public_metrics", _metrics(*_USER_METRICS)),
                                    *_USER,
                                ]
                            )
                        ),
                    ),
                    (
                        "tweets",
                        pa.list_(
                            pa.struct([*_TWEET, ("public_metrics", _metrics(*_TWEET_METRICS))])
                        ),
                    ),
                    ("media", pa.list_(_MEDIA)),
                ]
            ),
        ),
        ("__twarc", pa.struct([("url", _S)])),
    ]
)
_ENDPOINT = (
    r"/2/(?:tweets|users)/(?P<id>\d+)/(?P<rel>liking_users|retweeted_by|liked_tweets|following|"
    r"followers|quote_tweets)"
)
_USER_RELS = ("liking_users", "retweeted_by", "following", "followers")
_REF_TYPES = ("retweeted", "replied_to", "quoted")
# X's own time format; other spellings are left to the other paths and their parsers.
_TIME = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,6})?Z$"
_MAX_RECS = 1 << 21  # the `_seq` layout of x_v2_sql: pages per block, items per section
_MAX_ITEMS = 1 << 20
_EMPTY_I = np.zeros(0, np.int64)


class _Decline(Exception):
    """The block is not for this path."""


# -- small Arrow helpers -------------------------------------------------------------------------
def _f(arr: pa.Array, *path: str) -> pa.Array:
    """A nested field, NULL wherever a level above it is NULL."""
    for name in path:
        arr = pc.struct_field(arr, name)
    return arr


def _flat(lists: pa.Array) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """The items of a list array, the row each came from and its index within its list."""
    items = pc.list_flatten(lists)
    parent = np.asarray(pc.list_parent_indices(lists), dtype=np.int64)
    offsets = np.asarray(lists.offsets, dtype=np.int64)
    idx = np.arange(len(parent), dtype=np.int64) + offsets[0] - offsets[parent]
    return items, parent, idx


def _blank(arr: pa.Array) -> np.ndarray:
    """True where the string is NULL or empty."""
    return np.asarray(pc.fill_null(pc.equal(arr, ""), True), dtype=np.bool_)


def _nullif_empty(arr: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(arr, ""), pa.scalar(None, arr.type), arr)


def _mask(values: np.ndarray) -> pa.Array:
    return pa.array(values, _B)


def _where(mask: np.ndarray, a: pa.Array, b: pa.Array | pa.Scalar) -> pa.Array:
    return pc.if_else(_mask(mask), a, b)


def _null(typ: pa.DataType) -> pa.Scalar:
    return pa.scalar(None, typ)


def _const(value: Any, n: int, typ: pa.DataType = _S) -> pa.Array:
    return pa.repeat(pa.scalar(value, typ), n)


def _take(arr: pa.Array, idx: np.ndarray) -> pa.Array:
    if len(idx) == len(arr) and (not len(idx) or (idx[0] == 0 and bool(np.all(np.diff(idx) == 1)))):
        return arr  # all of it, in order
    return arr.take(pa.array(idx, _I))


def _concat(arrays: list[pa.Array]) -> pa.Array:
    """Concatenate, without copying when only one of them holds anything."""
    full = [a for a in arrays if len(a)]
    if len(full) == 1:
        return full[0]
    return pa.concat_arrays(full or arrays[:1])


def _choose(use_b: np.ndarray, a: pa.Array, b: pa.Array) -> pa.Array:
    """Row by row, ``b`` where ``use_b`` else ``a`` (any type, nested too)."""
    if not use_b.any():
        return a
    both = pa.concat_arrays([a, b])
    return _take(both, np.arange(len(a), dtype=np.int64) + use_b * len(a))


def _times(arr: pa.Array) -> pa.Array:
    """X's times as UTC timestamps; declines any other spelling or an impossible date."""
    if not pc.all(pc.fill_null(pc.match_substring_regex(arr, _TIME), True), min_count=0).as_py():
        raise _Decline("time")
    try:
        naive = pc.cast(pc.utf8_slice_codeunits(arr, 0, -1), pa.timestamp("us"))
    except pa.ArrowInvalid as exc:  # 2025-13-45T99:00:00Z and the like
        raise _Decline("time") from exc
    return pc.assume_timezone(naive, "UTC")


class _Keys:
    """(page, id) keys of one page section, for lookups; declines when a key repeats (the
    other paths keep only one of them)."""

    def __init__(self, rec: np.ndarray, ids: pa.Array) -> None:
        self.rec, self.ids = rec, ids

    def find(self, rec: np.ndarray, ids: pa.Array) -> tuple[np.ndarray, np.ndarray]:
        """For each query: found, and the key's position."""
        both = pa.concat_arrays([self.ids, ids])
        enc = pc.dictionary_encode(both)
        codes = np.asarray(enc.indices.fill_null(-1), dtype=np.int64) + 1  # NULL -> 0
        width = len(enc.dictionary) + 1
        n = len(self.rec)
        k = self.rec * width + codes[:n]
        q = rec * width + codes[n:]
        order = np.argsort(k, kind="stable")
        ks = k[order]
        if len(ks) > 1 and bool(np.any(ks[1:] == ks[:-1])):
            raise _Decline("repeated id")
        if not len(ks):
            return np.zeros(len(q), np.bool_), np.zeros(len(q), np.int64)
        pos = np.minimum(np.searchsorted(ks, q), len(ks) - 1)
        found = (ks[pos] == q) & (codes[n:] > 0)
        return found, order[pos]


def _last_ref(items: pa.Array, parent: np.ndarray, n: int, kind: str) -> pa.Array:
    """Per tweet, the id of its last reference of ``kind`` (NULL if none)."""
    hit = np.flatnonzero(np.asarray(pc.fill_null(pc.equal(_f(items, "type"), kind), False)))
    par = parent[hit]
    last = np.ones(len(par), np.bool_)
    last[:-1] = par[1:] != par[:-1]
    has = np.zeros(n, np.bool_)
    pick = np.zeros(n, np.int64)
    has[par[last]] = True
    pick[par[last]] = hit[last]
    if not len(items):
        return pa.nulls(n, _S)
    return _where(has, _take(_f(items, "id"), pick), _null(_S))


def _seq(base: int, rec: np.ndarray, section: np.ndarray, idx: np.ndarray) -> pa.Array:
    return pa.array(base + (rec * 4 + section) * 1048576 + idx, _I)


def _table(name: str, columns: list[pa.Array]) -> pa.Table:
    return pa.Table.from_arrays(columns, schema=STAGE_SCHEMAS[name])


# -- the block -----------------------------------------------------------------------------------
def _spec(typ: pa.DataType) -> tuple[Any, ...]:
    """The C reader's schema for an Arrow type."""
    if pa.types.is_struct(typ):
        return ("struct", tuple((f.name, _spec(f.type)) for f in typ))
    if pa.types.is_list(typ):
        return ("list", _spec(typ.value_type))
    return ({_S: "string", _I: "int64", _B: "bool"}[typ],)


_SPEC = _spec(pa.struct(list(SCHEMA)))


def _assemble(
    typ: pa.DataType, nodes: list[tuple[int, bytes, bytes | None, bytes | None]]
) -> pa.Array:
    """Arrow arrays from the C reader's buffers (its nodes in pre-order, consumed)."""
    length, validity, offsets, values = nodes.pop()
    bitmap = pa.py_buffer(validity)
    if pa.types.is_struct(typ):
        children = [_assemble(f.type, nodes) for f in typ]
        return pa.StructArray.from_buffers(typ, length, [bitmap], children=children)
    if pa.types.is_list(typ):
        child = _assemble(typ.value_type, nodes)
        return pa.ListArray.from_buffers(
            typ, length, [bitmap, pa.py_buffer(offsets)], children=[child]
        )
    if typ == _S:
        return pa.Array.from_buffers(
            typ, length, [bitmap, pa.py_buffer(offsets), pa.py_buffer(values)]
        )
    return pa.Array.from_buffers(typ, length, [bitmap, pa.py_buffer(values)])


def read_pages(block: bytes) -> pa.Table:
    """The block's pages as a table of :data:`SCHEMA`: with the C reader of the compiled
    ``_cjson`` module when it is built, else with Arrow's JSON reader (slower, same result)."""
    if _cjson is not None:
        nodes = _cjson.parse(_SPEC, block)
        nodes.reverse()
        root = _assemble(pa.struct(list(SCHEMA)), nodes)
        return pa.Table.from_struct_array(root)
    if not block.isascii():
        block.decode("utf-8")  # Arrow's reader does not check; the other paths do
    return pj.read_json(
        pa.BufferReader(block),
        read_options=pj.ReadOptions(use_threads=False, block_size=len(block) + 1),
        parse_options=pj.ParseOptions(explicit_schema=SCHEMA, unexpected_field_behavior="ignore"),
    ).combine_chunks()


def stage_block(block: bytes, seq_base: int) -> tuple[int, list[tuple[str, pa.Table]]] | None:
    """Parse one block of whole lines of clean pages. Return ``(records, [(stage table,
    rows)])`` with the columns of :data:`~fimiscope.ingest.sink.STAGE_SCHEMAS`, or ``None``
    when the block is not for this path."""
    try:
        pages = read_pages(block)
        if not pages.num_rows:  # blank lines only
            return 0, []
        return _Block(pages, seq_base).stage()
    except (_Decline, ValueError, UnicodeDecodeError, pa.ArrowException):
        return None


class _Block:
    def __init__(self, pages: pa.Table, base: int) -> None:
        self.base = base
        self.n_pages = n = pages.num_rows
        if n >= _MAX_RECS:
            raise _Decline("too many pages")
        self.rec = np.arange(1, n + 1, dtype=np.int64)  # 1-based, as DuckDB's ordinality
        self.data = pages.column("data").chunk(0)
        if self.data.null_count:
            raise _Decline("page without data")
        includes = pages.column("includes").chunk(0)
        self.users_l = _f(includes, "users")
        self.tweets_l = _f(includes, "tweets")
        self.media_l = _f(includes, "media")
        for lists in (self.data, self.users_l, self.tweets_l, self.media_l):
            longest = pc.max(pc.list_value_length(lists)).as_py()
            if longest is not None and longest >= _MAX_ITEMS:
                raise _Decline("too many items")
        ep = pc.extract_regex(_f(pages.column("__twarc").chunk(0), "url"), _ENDPOINT)
        self.ep_id = _f(ep, "id")
        self.ep_rel = pc.fill_null(_f(ep, "rel"), "")

    def stage(self) -> tuple[int, list[tuple[str, pa.Table]]]:
        d_items, d_parent, d_idx = _flat(self.data)
        if d_items.null_count:
            raise _Decline("null item")
        user_page = np.asarray(pc.is_in(self.ep_rel, pa.array(_USER_RELS)), dtype=np.bool_)
        d_user = user_page[d_parent]
        du, dt = np.flatnonzero(d_user), np.flatnonzero(~d_user)
        u0, u0_parent, u0_idx = _flat(self.users_l)
        t2, t2_parent, t2_idx = _flat(self.tweets_l)
        if u0.null_count or t2.null_count:
            raise _Decline("null item")
        users = self._users(
            [(u0, u0_parent, u0_idx, 0), (_take(d_items, du), d_parent[du], d_idx[du], 1)]
        )
        tweets = self._tweets(
            [(_take(d_items, dt), d_parent[dt], d_idx[dt], 1), (t2, t2_parent, t2_idx, 2)],
            users,
        )
        out = [
            ("posts", tweets.pop("posts")),
            ("post_refs", tweets.pop("post_refs")),
            ("accounts", users.pop("accounts")),
            ("engagements", pa.concat_tables([users.pop("engagements"), tweets.pop("likes")])),
            ("post_urls", tweets.pop("post_urls")),
            ("post_hashtags", tweets.pop("post_hashtags")),
            ("post_mentions", tweets.pop("post_mentions")),
            ("post_media", tweets.pop("post_media")),
        ]
        return users["n"] + tweets["n"], out

    # -- users ---------------------------------------------------------------------------------
    def _users(self, parts: list[tuple[pa.Array, np.ndarray, np.ndarray, int]]) -> dict[str, Any]:
        names = (
            "id",
            "username",
            "name",
            "description",
            "location",
            "created_at",
            "verified",
            "protected",
            "profile_image_url",
        )
        cols: dict[str, list[pa.Array]] = {k: [] for k in (*names, *_USER_METRICS)}
        for items, *_ in parts:
            for k in names:
                cols[k].append(_f(items, k))
            for k in _USER_METRICS:
                cols[k].append(_f(items, "public_metrics", k))
        c = {k: _concat(v) for k, v in cols.items()}
        parent = np.concatenate([p[1] for p in parts])
        idx = np.concatenate([p[2] for p in parts])
        section = np.concatenate([np.full(len(p[1]), p[3], np.int64) for p in parts])
        rec = self.rec[parent]
        n = len(rec)
        if _blank(c["id"]).any():
            raise _Decline("user without id")
        created = _times(c["created_at"])
        seq = _seq(self.base, rec, section, idx)
        s0 = section == 0
        # section 0 (includes.users) by (page, id): for the authors' handles; no repeats
        keys = _Keys(rec[s0], _take(c["id"], np.flatnonzero(s0)))
        piu = c["profile_image_url"]
        default_image = _where(
            _blank(piu), _null(_B), pc.match_substring(pc.fill_null(piu, ""), "default_profile")
        )
        accounts = _table(
            "accounts",
            [
                _const("x", n),
                c["id"],
                c["username"],
                c["name"],
                c["description"],
                _nullif_empty(c["location"]),
                created,
                c["followers_count"],
                c["following_count"],
                c["tweet_count"],
                c["verified"],
                c["protected"],
                default_image,
                piu,
                pa.nulls(n, _S),
                seq,
            ],
        )
        # engagement pages: section 1 users of a liking-users / retweeted-by / follows page
        s1 = np.flatnonzero(section == 1)
        rel = _take(self.ep_rel, parent[s1])
        ep_id = _take(self.ep_id, parent[s1])
        uid = _take(c["id"], s1)
        is_rel = {r: np.asarray(pc.equal(rel, r), dtype=np.bool_) for r in _USER_RELS}
        m = len(s1)
        kind = _where(
            is_rel["liking_users"],
            _const("like", m),
            _where(is_rel["retweeted_by"], _const("repost", m), _const("follow", m)),
        )
        engagements = _table(
            "engagements",
            [
                _const("x", m),
                _where(is_rel["following"], ep_id, uid),
                kind,
                _where(is_rel["liking_users"] | is_rel["retweeted_by"], ep_id, _null(_S)),
                _where(is_rel["following"], uid, _where(is_rel["followers"], ep_id, _null(_S))),
                pa.nulls(m, _TS),
                _take(seq, s1),
            ],
        )
        return {
            "n": n,
            "accounts": accounts,
            "engagements": engagements,
            "keys": keys,
            "username": c["username"],
            "s0": np.flatnonzero(s0),
        }

    # -- tweets --------------------------------------------------------------------------------
    def _tweets(
        self, parts: list[tuple[pa.Array, np.ndarray, np.ndarray, int]], users: dict[str, Any]
    ) -> dict[str, Any]:
        scalar = (
            "id",
            "text",
            "author_id",
            "created_at",
            "conversation_id",
            "lang",
            "source",
            "in_reply_to_user_id",
        )
        nested = ("referenced_tweets", "entities")
        cols: dict[str, list[pa.Array]] = {
            k: []
            for k in (
                *scalar,
                *nested,
                *_TWEET_METRICS,
                "note_text",
                "note_entities",
                "has_note",
                "media_keys",
                "country_codes",
            )
        }
        for items, *_ in parts:
            for k in (*scalar, *nested):
                cols[k].append(_f(items, k))
            for k in _TWEET_METRICS:
                cols[k].append(_f(items, "public_metrics", k))
            note = _f(items, "note_tweet")
            cols["has_note"].append(pc.is_valid(note))
            cols["note_text"].append(_f(note, "text"))
            cols["note_entities"].append(_f(note, "entities"))
            cols["media_keys"].append(_f(items, "attachments", "media_keys"))
            cols["country_codes"].append(_f(items, "withheld", "country_codes"))
        c = {k: _concat(v) for k, v in cols.items()}
        parent = np.concatenate([p[1] for p in parts])
        idx = np.concatenate([p[2] for p in parts])
        section = np.concatenate([np.full(len(p[1]), p[3], np.int64) for p in parts])
        rec = self.rec[parent]
        n = len(rec)
        ids = c["id"]
        if _blank(ids).any():
            raise _Decline("tweet without id")
        created = _times(c["created_at"])
        seq = _seq(self.base, rec, section, idx)

        # references: only the known types, each with an id; one post never referred twice
        refs, r_parent, _ = _flat(c["referenced_tweets"])
        if len(refs) and (
            not pc.all(
                pc.fill_null(pc.is_in(_f(refs, "type"), pa.array(_REF_TYPES)), False)
            ).as_py()
            or _blank(_f(refs, "id")).any()
        ):
            raise _Decline("bad reference")
        rt_id = _last_ref(refs, r_parent, n, "retweeted")
        re_id = _last_ref(refs, r_parent, n, "replied_to")
        qt_id = _last_ref(refs, r_parent, n, "quoted")
        for a, b in ((rt_id, re_id), (rt_id, qt_id), (re_id, qt_id)):
            if pc.any(pc.fill_null(pc.equal(a, b), False)).as_py():
                raise _Decline("a post referred to twice")

        # included tweets by (page, id): the referenced tweets' authors
        s2 = np.flatnonzero(section == 2)
        inc = _Keys(rec[s2], _take(ids, s2))
        authors = _take(c["author_id"], s2)

        def ref_author(ref_id: pa.Array) -> tuple[pa.Array, np.ndarray]:
            found, pos = inc.find(rec, ref_id)
            if not len(s2):
                return pa.nulls(n, _S), found
            return _where(found, _take(authors, pos), _null(_S)), found

        rt_author, rt_inc = ref_author(rt_id)
        re_found_author, re_inc = ref_author(re_id)
        qt_author, qt_inc = ref_author(qt_id)
        re_author = pc.coalesce(_nullif_empty(c["in_reply_to_user_id"]), re_found_author)
        has_rt = np.asarray(pc.is_valid(rt_id), dtype=np.bool_)
        has_re = np.asarray(pc.is_valid(re_id), dtype=np.bool_)
        has_qt = np.asarray(pc.is_valid(qt_id), dtype=np.bool_)
        is_re = ~has_rt & has_re
        is_qt = ~has_rt & ~has_re & has_qt
        kind = _where(
            has_rt,
            _const("repost", n),
            _where(is_re, _const("reply", n), _where(is_qt, _const("quote", n), _const("post", n))),
        )
        ref_post = _where(has_rt, rt_id, _where(is_re, re_id, _where(is_qt, qt_id, _null(_S))))
        ref_acc = _where(
            has_rt, rt_author, _where(is_re, re_author, _where(is_qt, qt_author, _null(_S)))
        )

        # the author's handle, from the page's includes.users
        u_found, u_pos = users["keys"].find(rec, c["author_id"])
        if len(users["s0"]):
            handle = _where(u_found, _take(_take(users["username"], users["s0"]), u_pos), _null(_S))
        else:
            handle = pa.nulls(n, _S)
        handle = _nullif_empty(handle)
        url = pc.binary_join_element_wise(
            "https://x.com/", pc.fill_null(handle, "i/web"), "/status/", ids, ""
        )
        has_note = np.asarray(c["has_note"], dtype=np.bool_)
        text = pc.coalesce(_nullif_empty(c["note_text"]), c["text"])
        cut = np.asarray(pc.fill_null(pc.ends_with(c["text"], "…"), False), dtype=np.bool_)
        truncated = has_rt & ~has_note & cut
        codes = c["country_codes"]
        if len(codes) and pc.list_flatten(codes).null_count:
            raise _Decline("null country code")
        withheld = _nullif_empty(pc.binary_join(codes, ","))

        main = [
            _const("x", n),
            ids,
            c["author_id"],
            created,
            kind,
            ref_post,
            ref_acc,
            c["conversation_id"],
            text,
            c["lang"],
            c["source"],
            c["like_count"],
            c["retweet_count"],
            c["reply_count"],
            c["quote_count"],
            c["impression_count"],
            _mask(truncated),
            _const(False, n, _B),
            withheld,
            url,
            seq,
        ]
        # stubs: referenced posts the page does not include. Only one per post can ever be
        # stored (the merge keeps a post's first full copy, else its first stub), so a stub
        # of a post this block holds in full, or a later stub of the same post, is left out.
        stub_ids, stub_acc, stub_seq = [], [], []
        for has, inc_mask, ref_id, author in (
            (has_rt, rt_inc, rt_id, rt_author),
            (has_re, re_inc, re_id, re_author),
            (has_qt, qt_inc, qt_id, qt_author),
        ):
            stub = np.flatnonzero(has & ~inc_mask)
            stub_ids.append(_take(ref_id, stub))
            stub_acc.append(_take(author, stub))
            stub_seq.append(np.asarray(seq)[stub])
        sid = pa.concat_arrays(stub_ids)
        posts = [_table("posts", main)]
        if len(sid):
            codes = np.asarray(pc.dictionary_encode(pa.concat_arrays([ids, sid])).indices)
            sseq = np.concatenate(stub_seq)
            scode = codes[n:]
            order = np.lexsort((sseq, scode))
            first = np.ones(len(order), np.bool_)
            first[1:] = scode[order][1:] != scode[order][:-1]
            keep = order[first]
            keep = np.sort(keep[~np.isin(scode[keep], codes[:n])])
            m = len(keep)
            posts.append(
                _table(
                    "posts",
                    [
                        _const("x", m),
                        _take(sid, keep),
                        _take(pa.concat_arrays(stub_acc), keep),
                        pa.nulls(m, _TS),
                        _const("post", m),
                        *[pa.nulls(m, _S)] * 6,
                        *[pa.nulls(m, _I)] * 5,
                        _const(False, m, _B),
                        _const(True, m, _B),
                        pa.nulls(m, _S),
                        pa.nulls(m, _S),
                        pa.array(sseq[keep], _I),
                    ],
                )
            )
        refs_out = []
        for has, name, ref_id, author in (
            (has_rt, "repost", rt_id, rt_author),
            (has_re, "reply", re_id, re_author),
            (has_qt, "quote", qt_id, qt_author),
        ):
            w = np.flatnonzero(has)
            refs_out.append(
                _table(
                    "post_refs",
                    [
                        _const("x", len(w)),
                        _take(ids, w),
                        _const(name, len(w)),
                        _take(ref_id, w),
                        _take(author, w),
                        _take(seq, w),
                    ],
                )
            )

        # entities: the note's when it has its own, else the tweet's
        ents = _choose(
            np.asarray(pc.is_valid(c["note_entities"]), dtype=np.bool_),
            c["entities"],
            c["note_entities"],
        )
        urls, u_par, u_pos = _flat(_f(ents, "urls"))
        ex = pc.coalesce(_nullif_empty(_f(urls, "unwound_url")), _f(urls, "expanded_url"))
        keep = np.flatnonzero(~_blank(_f(urls, "url")) | ~_blank(ex))
        post_urls = self._child(
            "post_urls",
            ids,
            seq,
            u_par[keep],
            u_pos[keep],
            [_take(_f(urls, "url"), keep), _take(ex, keep)],
        )
        tags, h_par, h_pos = _flat(_f(ents, "hashtags"))
        keep = np.flatnonzero(~_blank(_f(tags, "tag")))
        post_hashtags = self._child(
            "post_hashtags", ids, seq, h_par[keep], h_pos[keep], [_take(_f(tags, "tag"), keep)]
        )
        ments, m_par, m_pos = _flat(_f(ents, "mentions"))
        keep = np.flatnonzero(~_blank(_f(ments, "username")) | ~_blank(_f(ments, "id")))
        post_mentions = self._child(
            "post_mentions",
            ids,
            seq,
            m_par[keep],
            m_pos[keep],
            [_take(_f(ments, "username"), keep), _take(_f(ments, "id"), keep)],
        )
        post_media = self._media(ids, seq, rec, c["media_keys"])

        # liked-tweets pages: the page's user liked each tweet of its data
        s1 = np.flatnonzero(section == 1)
        liked = s1[
            np.asarray(pc.equal(_take(self.ep_rel, parent[s1]), "liked_tweets"), dtype=np.bool_)
        ]
        m = len(liked)
        likes = _table(
            "engagements",
            [
                _const("x", m),
                _take(self.ep_id, parent[liked]),
                _const("like", m),
                _take(ids, liked),
                _take(c["author_id"], liked),
                pa.nulls(m, _TS),
                _take(seq, liked),
            ],
        )
        return {
            "n": n,
            "posts": pa.concat_tables(posts),
            "post_refs": pa.concat_tables(refs_out),
            "post_urls": post_urls,
            "post_hashtags": post_hashtags,
            "post_mentions": post_mentions,
            "post_media": post_media,
            "likes": likes,
        }

    def _child(
        self,
        name: str,
        ids: pa.Array,
        seq: pa.Array,
        rows: np.ndarray,
        pos: np.ndarray,
        values: list[pa.Array],
    ) -> pa.Table:
        return _table(
            name,
            [
                _const("x", len(rows)),
                _take(ids, rows),
                pa.array(pos, _I).cast(STAGE_SCHEMAS[name].field("position").type),
                *values,
                _take(seq, rows),
            ],
        )

    def _media(
        self, ids: pa.Array, seq: pa.Array, rec: np.ndarray, media_keys: pa.Array
    ) -> pa.Table:
        media, m_parent, _ = _flat(self.media_l)
        # includes.media by (page, media_key); checked for repeats even when nothing refers
        catalogue = _Keys(self.rec[m_parent], _f(media, "media_key"))
        keys, k_par, k_pos = _flat(media_keys)
        found, where = catalogue.find(rec[k_par], keys)
        if len(media):
            m_url = pc.coalesce(_nullif_empty(_f(media, "url")), _f(media, "preview_image_url"))
            typ = _where(found, _take(_f(media, "type"), where), _null(_S))
            murl = _where(found, _take(m_url, where), _null(_S))
        else:
            typ = murl = pa.nulls(len(keys), _S)
        keep = np.flatnonzero(~_blank(keys) | ~_blank(murl))
        schema = STAGE_SCHEMAS["post_media"]
        return _table(
            "post_media",
            [
                _const("x", len(keep)),
                _take(ids, k_par[keep]),
                pa.array(k_pos[keep], _I).cast(schema.field("position").type),
                _take(keys, keep),
                _take(typ, keep),
                _take(murl, keep),
                pa.nulls(len(keep), schema.field(6).type),
                _take(seq, k_par[keep]),
            ],
        )
