"""Write X API v2 search pages (twarc2 JSON Lines) and liking_users pages."""

from __future__ import annotations

import random
from typing import IO, Any

import numpy as np
import orjson

from fimiscope.simulate.behaviour import Grow
from fimiscope.simulate.config import HOUR_MS, Plan
from fimiscope.simulate.events import LIKE, QUOTE, REPLY, REPOST
from fimiscope.simulate.ids import TWITTER_EPOCH_MS, iso_x, tco
from fimiscope.simulate.population import BOT, NEWS, STATE, Population
from fimiscope.simulate.render import PartsMaker
from fimiscope.simulate.text import LANGS, Part

_SOURCES = (
    ("Twitter for iPhone",) * 11
    + ("Twitter for Android",) * 5
    + ("Twitter Web App",) * 3
    + ("Twitter for iPad",)
)
_BOT_SOURCES = ("Twitter Web App", "Twitter Web App", "PostPlanner Cloud", "autopost-jp")
_EU = [
    "AT",
    "BE",
    "BG",
    "CY",
    "CZ",
    "DE",
    "DK",
    "EE",
    "ES",
    "FI",
    "FR",
    "GR",
    "HR",
    "HU",
    "IE",
    "IT",
    "LT",
    "LU",
    "LV",
    "MT",
    "NL",
    "PL",
    "PT",
    "RO",
    "SE",
    "SI",
    "SK",
]
_TWARC = "2.14.0"
_NOT_FOUND = "https://api.twitter.com/2/problems/resource-not-found"
_USER_FIELDS = (
    "created_at,description,entities,id,location,name,pinned_tweet_id,profile_image_url,"
    "protected,public_metrics,url,username,verified,withheld"
)
SEARCH_URL = (
    "https://api.twitter.com/2/tweets/search/all?expansions=author_id%2Creferenced_tweets.id"
    "%2Creferenced_tweets.id.author_id%2Centities.mentions.username%2Cattachments.media_keys"
    "%2Cin_reply_to_user_id&tweet.fields=attachments%2Cauthor_id%2Cconversation_id%2Ccreated_at"
    "%2Centities%2Cid%2Cin_reply_to_user_id%2Clang%2Cpublic_metrics%2Creferenced_tweets"
    "%2Csource%2Ctext%2Cwithheld%2Cedit_history_tweet_ids%2Cnote_tweet&user.fields="
    + _USER_FIELDS.replace(",", "%2C")
    + "&query=%28%23%E5%8F%82%E9%99%A2%E9%81%B8+OR+%E9%81%B8%E6%8C%99+OR+%E5%88%B6%E8%A3%81%29"
    "&start_time=2025-07-01T00%3A00%3A00Z&max_results=100"
)
_IMG = "https://pbs.twimg.com/profile_images"
DEFAULT_IMG = "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"


def weighted_len(text: str) -> int:
    """X's weighted length: CJK and other wide characters count 2."""
    return sum(1 if ord(c) < 0x1100 else 2 for c in text)


def display_url(url: str) -> str:
    """Return X's display form of a URL (no scheme, cut at 26 characters)."""
    bare = url.split("://", 1)[-1]
    return bare if len(bare) <= 26 else bare[:25] + "…"


class XWriter:
    """Render X rows into search pages; likes are collected for liking_users pages."""

    def __init__(
        self,
        fh: IO[bytes],
        plan: Plan,
        pop: Population,
        posts: Grow,
        counts: np.ndarray,
        maker: PartsMaker,
        rng: random.Random,
    ) -> None:
        self.fh, self.plan, self.pop, self.posts, self.counts = fh, plan, pop, posts, counts
        self.maker, self.rng = maker, rng
        self.users: dict[int, bytes] = {}
        self.cache: dict[int, tuple[bytes, str, int]] = {}
        self.page: list[tuple[bytes, int, int]] = []
        self.refs: dict[int, None] = {}
        self.authors: dict[int, None] = {}
        self.media: list[bytes] = []
        self.likes: list[np.ndarray] = []
        self.retrieved = iso_x(plan.end + 3 * HOUR_MS).replace(".000Z", ".123456+00:00")
        self.pages = 0
        self.tweets = 0

    def tweet_id(self, serial: int) -> int:
        """Snowflake id of a post serial."""
        return ((int(self.posts.t[serial]) - TWITTER_EPOCH_MS) << 22) | (serial & 0x3FFFFF)

    def user(self, idx: int) -> bytes:
        """Serialised user object (cached)."""
        b = self.users.get(idx)
        if b is None:
            p = self.pop
            uid = str(int(p.xid[idx]))
            u: dict[str, Any] = {
                "id": uid,
                "name": p.name[idx],
                "username": p.handle[idx],
                "created_at": iso_x(int(p.created_ms[idx])),
                "description": p.desc[idx],
                "location": p.location[idx],
                "verified": bool(p.group[idx] in (NEWS, STATE)),
                "protected": False,
                "profile_image_url": DEFAULT_IMG
                if p.default_img[idx]
                else f"{_IMG}/{int(p.xid[idx]) % 10**19}/{uid[-6:]}_normal.jpg",
                "public_metrics": {
                    "followers_count": int(p.followers[idx]),
                    "following_count": int(p.following[idx]),
                    "tweet_count": int(p.statuses[idx]),
                    "listed_count": int(p.followers[idx] // 400),
                    "like_count": int(p.statuses[idx] * 1.7),
                },
            }
            if not u["location"]:
                del u["location"]
            # orjson leaves slack in its buffers: keep an exact-size copy in long-lived caches
            b = self.users[idx] = memoryview(orjson.dumps(u)).tobytes()
        return b

    def _entities(self, parts: list[Part], prefix: str, key: int) -> tuple[str, dict[str, list]]:
        text = prefix
        ents: dict[str, list] = {"hashtags": [], "urls": [], "mentions": []}
        for p in parts:
            if p[0] == "t":
                text += p[1]
            elif p[0] == "h":
                ents["hashtags"].append(
                    {"start": len(text), "end": len(text) + len(p[1]), "tag": p[2]}
                )
                text += p[1]
            elif p[0] == "u":
                short = tco(key * 31 + len(text))
                ents["urls"].append(
                    {
                        "start": len(text),
                        "end": len(text) + len(short),
                        "url": short,
                        "expanded_url": p[1],
                        "display_url": display_url(p[1]),
                    }
                )
                text += short
        return text, {k: v for k, v in ents.items() if v}

    def _metrics(self, serial: int, author: int) -> dict[str, int]:
        rt, rp, lk, qt = (int(x) for x in self.counts[serial])
        reach = int(self.pop.followers[author] * self.rng.uniform(0.03, 0.25))
        return {
            "retweet_count": rt,
            "reply_count": rp,
            "like_count": lk,
            "quote_count": qt,
            "bookmark_count": lk // 20,
            "impression_count": reach + 40 * (rt + lk) + 3,
        }

    def write_batch(self, ev: dict[str, np.ndarray]) -> None:
        """Render one hour batch."""
        kind, s, tgt = ev["kind"], ev["serial"], ev["target"]
        lk = kind == LIKE
        ok = lk & ~self.posts.deleted[np.maximum(tgt, 0)]
        self.likes.append(
            np.stack([tgt[ok], ev["actor"][ok].astype(np.int64), ev["t"][ok]], axis=1)
        )
        sel = ~lk & ~self.posts.deleted[np.maximum(s, 0)]
        cols = [
            ev[c][sel].tolist()
            for c in ("serial", "kind", "actor", "target", "t", "role", "narr", "lang", "arg")
        ]
        for row in zip(*cols, strict=True):
            self._tweet(*row)
        horizon = (
            int(ev["t"][-1]) - int((self.plan.config.pool_hours + 6) * HOUR_MS) if len(s) else 0
        )
        old = []
        for k in self.cache:  # insertion order is time order
            if self.posts.t[k] >= horizon:
                break
            old.append(k)
        for k in old:
            del self.cache[k]

    def _tweet(
        self,
        serial: int,
        kind: int,
        actor: int,
        target: int,
        t: int,
        role: int,
        narr: int,
        lang: int,
        arg: int,
    ) -> None:
        tid = self.tweet_id(serial)
        sid = str(tid)
        pop, rng = self.pop, self.rng
        tw: dict[str, Any] = {"edit_history_tweet_ids": [sid]}
        refs = []
        if kind == REPOST:
            cached = self.cache.get(target)
            otext = cached[1] if cached else "…"
            oauth = cached[2] if cached else int(self.posts.author[target])
            head = f"RT @{pop.handle[oauth]}: "
            body = otext if len(head) + len(otext) <= 140 else otext[: 139 - len(head)] + "…"
            text, ents = (
                head + body,
                {
                    "mentions": [
                        {
                            "start": 3,
                            "end": 4 + len(pop.handle[oauth]),
                            "username": pop.handle[oauth],
                            "id": str(int(pop.xid[oauth])),
                        }
                    ]
                },
            )
            refs.append({"type": "retweeted", "id": str(self.tweet_id(target))})
            self.authors[oauth] = None
            long = False
        else:
            parts, long = self.maker.parts(role, kind, narr, lang, arg)
            prefix = ""
            if kind == REPLY:
                ra = int(self.posts.author[target])
                prefix = f"@{pop.handle[ra]} "
            if kind == QUOTE:
                qa = int(self.posts.author[target])
                parts = [
                    *parts,
                    ("t", " "),
                    ("u", f"https://twitter.com/{pop.handle[qa]}/status/{self.tweet_id(target)}"),
                ]
            text, ents = self._entities(parts, prefix, serial)
            if kind == REPLY:
                ents["mentions"] = [
                    {
                        "start": 0,
                        "end": len(prefix) - 1,
                        "username": pop.handle[ra],
                        "id": str(int(pop.xid[ra])),
                    }
                ]
                tw["in_reply_to_user_id"] = str(int(pop.xid[ra]))
                refs.append({"type": "replied_to", "id": str(self.tweet_id(target))})
                self.authors[ra] = None
            if kind == QUOTE:
                refs.append({"type": "quoted", "id": str(self.tweet_id(target))})
        full = text
        if long and weighted_len(text) > 280:
            cut, w = 0, 0
            while w < 274:
                w += 1 if ord(text[cut]) < 0x1100 else 2
                cut += 1
            tw["note_tweet"] = {"text": full, "entities": ents} if ents else {"text": full}
            text = text[:cut] + "…"
            ents = {k: [e for e in v if e["end"] <= cut] for k, v in ents.items()}
            ents = {k: v for k, v in ents.items() if v}
        tw["text"] = text
        tw["id"] = sid
        tw["author_id"] = str(int(pop.xid[actor]))
        tw["created_at"] = iso_x(t)
        conv = int(self.posts.conv[serial]) if kind == REPLY else serial
        tw["conversation_id"] = str(self.tweet_id(conv)) if conv != serial else sid
        tw["lang"] = LANGS[lang] if kind != REPOST else "ja"
        g = int(pop.group[actor])
        src = (
            _BOT_SOURCES[actor % 4]
            if g == BOT
            else "TweetDeck Web App"
            if g == NEWS
            else _SOURCES[(actor * 7) % len(_SOURCES)]
        )
        tw["source"] = src
        if kind == REPOST:
            m = {
                "retweet_count": int(self.counts[target, 0]) if target >= 0 else 0,
                "reply_count": 0,
                "like_count": 0,
                "quote_count": 0,
                "bookmark_count": 0,
                "impression_count": 0,
            }
        else:
            m = self._metrics(serial, actor)
        tw["public_metrics"] = m
        if ents:
            tw["entities"] = ents
        if refs:
            tw["referenced_tweets"] = refs
            self.refs[target] = None
        if kind != REPOST and g not in (NEWS, STATE, BOT) and rng.random() < 0.08:
            mk = f"3_{tid + 1}"
            tw["attachments"] = {"media_keys": [mk]}
            self.media.append(
                orjson.dumps(
                    {
                        "media_key": mk,
                        "type": "photo",
                        "width": 1200,
                        "height": 900,
                        "url": f"https://pbs.twimg.com/media/G{tid % 10**9:09d}.jpg",
                    }
                )
            )
        if g == STATE and lang == 2:
            tw["withheld"] = {"copyright": False, "country_codes": _EU}
        elif rng.random() < self.plan.config.withheld_share:
            tw["withheld"] = {"copyright": False, "country_codes": ["DE"]}
        b = orjson.dumps(tw)
        if kind != REPOST:
            self.cache[serial] = (memoryview(b).tobytes(), full, actor)
        self.authors[actor] = None
        self.page.append((b, tid, actor))
        self.tweets += 1
        if len(self.page) == 100:
            self.flush()

    def flush(self) -> None:
        """Write the buffered page (newest first, like the API)."""
        if not self.page:
            return
        page = sorted(self.page, key=lambda x: -x[1])
        errors: list[bytes] = []
        users = []
        for a in self.authors:
            if self.rng.random() < self.plan.config.missing_user_share and self.pop.group[a] != BOT:
                uid = str(int(self.pop.xid[a]))
                errors.append(
                    orjson.dumps(
                        {
                            "value": uid,
                            "detail": f"Could not find user with author_id: [{uid}].",
                            "title": "Not Found Error",
                            "resource_type": "user",
                            "parameter": "author_id",
                            "resource_id": uid,
                            "type": _NOT_FOUND,
                        }
                    )
                )
            else:
                users.append(self.user(a))
        tweets = []
        for r in self.refs:
            c = self.cache.get(r)
            if c is not None and not self.posts.deleted[r]:
                tweets.append(c[0])
                continue
            rid = str(self.tweet_id(r))
            errors.append(
                orjson.dumps(
                    {
                        "value": rid,
                        "detail": f"Could not find tweet with referenced_tweets.id: [{rid}].",
                        "title": "Not Found Error",
                        "resource_type": "tweet",
                        "parameter": "referenced_tweets.id",
                        "resource_id": rid,
                        "type": _NOT_FOUND,
                    }
                )
            )
        meta = {
            "newest_id": str(page[0][1]),
            "oldest_id": str(page[-1][1]),
            "result_count": len(page),
            "next_token": f"b26v89c19zqg8o3f{self.pages:010d}",
        }
        out = [
            b'{"data":[',
            b",".join(p[0] for p in page),
            b'],"includes":{"users":[',
            b",".join(users),
            b"]",
        ]
        if tweets:
            out += [b',"tweets":[', b",".join(tweets), b"]"]
        if self.media:
            out += [b',"media":[', b",".join(self.media), b"]"]
        out.append(b"}")
        if errors:
            out += [b',"errors":[', b",".join(errors), b"]"]
        twarc = {
            "url": SEARCH_URL + f"&next_token={meta['next_token']}",
            "version": _TWARC,
            "retrieved_at": self.retrieved,
        }
        out += [b',"meta":', orjson.dumps(meta), b',"__twarc":', orjson.dumps(twarc), b"}\n"]
        self.fh.write(b"".join(out))
        self.pages += 1
        self.page, self.refs, self.authors, self.media = [], {}, {}, []
