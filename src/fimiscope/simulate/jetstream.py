"""Write Bluesky Jetstream events (JSON Lines, in ``time_us`` order)."""

from __future__ import annotations

from typing import IO, Any

import numpy as np
import orjson

from fimiscope.simulate.behaviour import Grow
from fimiscope.simulate.events import FOLLOW, LIKE, QUOTE, REPLY, REPOST
from fimiscope.simulate.ids import cid, iso_ms, tid
from fimiscope.simulate.population import BOT, Population
from fimiscope.simulate.render import PartsMaker
from fimiscope.simulate.text import LANGS, Part

_LAG_US = 420_000  # relay lag between a record's createdAt and the event


def post_rkey(posts: Grow, serial: int) -> str:
    """Record key of a post or repost serial."""
    return tid(int(posts.t[serial]) * 1000 + serial % 1000, serial % 1024)


def post_uri(pop: Population, posts: Grow, serial: int) -> str:
    """AT-URI of a post serial (reposts use the repost collection)."""
    coll = "app.bsky.feed.repost" if posts.kind[serial] == REPOST else "app.bsky.feed.post"
    return f"at://{pop.did[int(posts.author[serial])]}/{coll}/{post_rkey(posts, serial)}"


def facets_text(parts: list[Part], pop: Population) -> tuple[str, list[dict[str, Any]]]:
    """Join parts into text with facets whose indices are UTF-8 byte offsets."""
    chunks: list[str] = []
    pos = 0
    facets: list[dict[str, Any]] = []
    for p in parts:
        if p[0] == "t":
            shown = p[1]
        elif p[0] == "h":
            shown = p[1]
            feat = {"$type": "app.bsky.richtext.facet#tag", "tag": p[2]}
        elif p[0] == "u":
            bare = p[1].split("://", 1)[-1]
            shown = bare if len(bare) <= 30 else bare[:27] + "..."
            feat = {"$type": "app.bsky.richtext.facet#link", "uri": p[1]}
        else:
            shown = "@" + pop.handle[p[1]]
            feat = {"$type": "app.bsky.richtext.facet#mention", "did": pop.did[p[1]]}
        n = len(shown.encode())
        if p[0] != "t":
            facets.append({"index": {"byteStart": pos, "byteEnd": pos + n}, "features": [feat]})
        chunks.append(shown)
        pos += n
    return "".join(chunks), facets


class JetstreamWriter:
    """Render Bluesky rows as Jetstream commit, identity and account events."""

    def __init__(
        self, fh: IO[bytes], pop: Population, posts: Grow, maker: PartsMaker, seed: int
    ) -> None:
        self.fh, self.pop, self.posts, self.maker, self.seed = fh, pop, posts, maker, seed
        self.seen = np.zeros(len(pop.group), bool)
        self.seq = 2_000_000_000
        self.events = 0
        self.like_no = 0

    def cid_of(self, serial: int) -> str:
        """Content id of a post serial."""
        return cid(f"{self.seed}:bsky:{serial}".encode())

    def _emit(self, did: str, time_us: int, kind: str, body: dict[str, Any]) -> None:
        self.fh.write(orjson.dumps({"did": did, "time_us": time_us, "kind": kind, kind: body}))
        self.fh.write(b"\n")
        self.events += 1

    def _commit(
        self,
        actor: int,
        us: int,
        coll: str,
        rkey: str,
        record: dict[str, Any] | None,
        c: str | None,
    ) -> None:
        body: dict[str, Any] = {
            "rev": tid(us + 7, actor % 1024),
            "operation": "create" if record else "delete",
            "collection": coll,
            "rkey": rkey,
        }
        if record is not None:
            body["record"] = record
            body["cid"] = c
        self._emit(self.pop.did[actor], us + _LAG_US, "commit", body)

    def _ref(self, serial: int) -> dict[str, str]:
        return {"uri": post_uri(self.pop, self.posts, serial), "cid": self.cid_of(serial)}

    def write_batch(self, ev: dict[str, np.ndarray], hour_end: int) -> None:
        """Render one hour batch, then the deletions of the hour."""
        pop, posts = self.pop, self.posts
        deleted = []
        cols = [
            ev[c].tolist()
            for c in ("actor", "kind", "t", "serial", "target", "lang", "role", "narr", "arg")
        ]
        for actor, kind, t, s, target, lang, role, narr, arg in zip(*cols, strict=True):
            us = t * 1000
            if not self.seen[actor]:
                self.seen[actor] = True
                self.seq += 1
                self._emit(
                    pop.did[actor],
                    us + _LAG_US,
                    "identity",
                    {
                        "did": pop.did[actor],
                        "handle": pop.handle[actor],
                        "seq": self.seq,
                        "time": iso_ms(t),
                    },
                )
            created = iso_ms(t)
            if kind in (REPOST, LIKE):
                coll = "app.bsky.feed.repost" if kind == REPOST else "app.bsky.feed.like"
                if kind == LIKE:
                    self.like_no += 1
                    rkey = tid(us + self.like_no % 1000, (self.like_no + actor) % 1024)
                    c = cid(f"{self.seed}:like:{self.like_no}".encode())
                else:
                    rkey, c = post_rkey(posts, s), self.cid_of(s)
                rec = {"$type": coll, "createdAt": created, "subject": self._ref(target)}
                self._commit(actor, us, coll, rkey, rec, c)
            elif kind == FOLLOW:
                self.like_no += 1
                rec = {
                    "$type": "app.bsky.graph.follow",
                    "subject": pop.did[arg],
                    "createdAt": created,
                }
                self._commit(
                    actor,
                    us,
                    "app.bsky.graph.follow",
                    tid(us, self.like_no % 1024),
                    rec,
                    cid(f"{self.seed}:follow:{self.like_no}".encode()),
                )
            else:
                parts, _ = self.maker.parts(role, kind, narr, lang, arg)
                text, facets = facets_text(parts, pop)
                rec: dict[str, Any] = {
                    "$type": "app.bsky.feed.post",
                    "createdAt": created,
                    "langs": [LANGS[lang]],
                    "text": text,
                }
                if facets:
                    rec["facets"] = facets
                links = [p[1] for p in parts if p[0] == "u"]
                if kind == REPLY:
                    rec["reply"] = {
                        "root": self._ref(int(posts.conv[s])),
                        "parent": self._ref(target),
                    }
                elif kind == QUOTE:
                    rec["embed"] = {"$type": "app.bsky.embed.record", "record": self._ref(target)}
                elif links:
                    rec["embed"] = {
                        "$type": "app.bsky.embed.external",
                        "external": {
                            "uri": links[0],
                            "title": text[:60].strip(),
                            "description": "",
                        },
                    }
                self._commit(
                    actor, us, "app.bsky.feed.post", post_rkey(posts, s), rec, self.cid_of(s)
                )
                if posts.deleted[s]:
                    deleted.append((actor, s))
        for actor, s in deleted:
            self._commit(
                actor, (hour_end - 1) * 1000, "app.bsky.feed.post", post_rkey(posts, s), None, None
            )

    def finish(self, end_ms: int) -> list[int]:
        """Emit account take-downs of a few bots after the window; return their indices."""
        bots = np.flatnonzero((self.pop.group == BOT) & self.seen)[::9][:5]
        for j, b in enumerate(bots):
            self.seq += 1
            t = end_ms + (j + 1) * 60_000
            self._emit(
                self.pop.did[b],
                t * 1000,
                "account",
                {
                    "active": False,
                    "did": self.pop.did[b],
                    "seq": self.seq,
                    "status": "takendown",
                    "time": iso_ms(t),
                },
            )
        return [int(b) for b in bots]
