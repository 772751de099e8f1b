"""Co-media by perceptual hash: files at hand fill post_media.phash; re-encoded copies of one
picture become one target of the `media_phash` trace."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from fimiscope.coordination import detect
from fimiscope.errors import ConfigError
from fimiscope.store import Store

Image = pytest.importorskip("PIL.Image")
pytest.importorskip("imagehash")

T0 = datetime(2024, 7, 1, tzinfo=UTC)


def _picture(seed: int) -> Image.Image:
    """A random 8x8 block pattern blown up to 64x64 (distinct seeds: distinct pictures)."""
    blocks = np.random.default_rng(seed).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    return Image.fromarray(blocks).resize((64, 64), Image.Resampling.NEAREST)


def _store(tmp: Path) -> tuple[Store, Path]:
    """5 bots post the same 6 pictures, each bot its own re-encoded copy (resized, JPEG) under
    its own media key, within seconds; 30 humans post 6 pictures of their own each."""
    media = tmp / "media"
    media.mkdir()
    s = Store(tmp / "s.duckdb")
    posts, rows = [], []
    for pic in range(6):
        base = _picture(1000 + pic)
        for b in range(5):
            key = f"bot{b}-{pic}"
            copy = base.resize((64 + 8 * b, 64 + 8 * b), Image.Resampling.BILINEAR)
            copy.save(media / f"{key}.jpg" if b % 2 else media / f"{key}.png", quality=90)
            pid = f"bp{b}-{pic}"
            posts.append(("x", pid, f"bot{b}", T0 + timedelta(hours=pic, seconds=b), "post"))
            rows.append(("x", pid, 0, key, "photo", f"https://cdn.example/media/{key}.jpg"))
    for h in range(30):
        for pic in range(6):
            key = f"h{h}-{pic}"
            _picture(h * 10 + pic).save(media / f"{key}.png")
            pid = f"hp{h}-{pic}"
            posts.append(("x", pid, f"human{h:02d}", T0 + timedelta(hours=pic, minutes=h), "post"))
            rows.append(("x", pid, 0, None, "photo", f"https://cdn.example/m/{key}.png"))
    s.con.executemany(
        "INSERT INTO posts (platform, post_id, account_id, created_at, kind) "
        "VALUES (?, ?, ?, ?, ?)",
        posts,
    )
    s.con.executemany(
        "INSERT INTO post_media (platform, post_id, position, media_key, media_type, url) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        rows,
    )
    return s, media


def test_phash_turns_reencoded_copies_into_one_target(tmp_path):
    from fimiscope.coordination.media import compute_phashes

    s, media = _store(tmp_path)
    with s:
        # found by media key (bots) or by the URL's file name (humans)
        assert compute_phashes(s, media) == 5 * 6 + 30 * 6
        assert compute_phashes(s, media) == 0  # already hashed
        per_pic = s.con.execute(
            "SELECT split_part(post_id, '-', 2) AS pic, count(DISTINCT phash) FROM post_media "
            "WHERE post_id LIKE 'bp%' GROUP BY pic"
        ).fetchall()
        assert sorted(n for _, n in per_pic) == [1] * 6  # 5 copies -> one hash per picture
        distinct = s.con.execute("SELECT count(DISTINCT phash) FROM post_media").fetchall()[0][0]
        assert distinct == 6 + 30 * 6
        with pytest.raises(ConfigError):
            compute_phashes(s, tmp_path / "nowhere")


def test_detect_with_media_dir_finds_the_image_spreaders(tmp_path):
    s, media = _store(tmp_path)
    with s:
        r = detect(s, traces=("repost",), window=60, media_dir=media, min_group_size=3)
        params = s.run(r.run_id)["parameters"]
        assert "media_phash" in params["traces"] and params["media_dir"] == str(media)
        assert [set(g.members) for g in r.groups] == [{f"bot{b}" for b in range(5)}]
        assert r.groups[0].traces == ("media_phash",)
