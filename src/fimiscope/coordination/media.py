"""Perceptual hashes of media files at hand, for the ``media_phash`` trace.

:func:`compute_phashes` fills ``post_media.phash`` from image files in a folder: a file is
matched to a ``post_media`` row by its name without extension equal to the row's
``media_key``, or by its full name equal to the last path segment of the row's ``url``
(``https://pbs.twimg.com/media/AbC.jpg`` -> ``AbC.jpg``). The hash is the 64-bit DCT
perceptual hash of ``imagehash`` (hex), which survives re-encoding, resizing and small colour
changes, so the same picture re-uploaded by many accounts gets one target. Re-encoding can
still flip a few of the 64 bits, so a new hash within :data:`MAX_DISTANCE` bits (Hamming) of a
hash already seen -- stored earlier, or earlier in this pass, in file order -- is stored as
that hash: near-identical pictures share one target. (The comparison is all-against-all over
distinct hashes with numpy; fine for tens of thousands of pictures, not for millions.) Files
that are not images (videos, broken files) are skipped.

Needs the ``media`` extra (``imagehash``, ``Pillow``).

References
----------
.. [1] Zauner, C. (2010). Implementation and benchmarking of perceptual image hash
   functions. Master's thesis, Upper Austria University of Applied Sciences.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlparse

from fimiscope.errors import ConfigError, MissingDependencyError
from fimiscope.store import Store

__all__ = ["MAX_DISTANCE", "compute_phashes"]

MAX_DISTANCE = 6
"""Hashes this many bits apart or fewer (of 64) are the same picture."""

_log = logging.getLogger(__name__)


def compute_phashes(store: Store, media_dir: str | Path, *, overwrite: bool = False) -> int:
    """Fill ``post_media.phash`` for rows whose image file is in ``media_dir``.

    Parameters
    ----------
    store
        A writable store.
    media_dir
        Folder of media files (searched recursively).
    overwrite
        Recompute hashes already stored.

    Returns
    -------
    int
        Rows updated.

    Raises
    ------
    ConfigError
        When ``media_dir`` is not a folder.
    MissingDependencyError
        Without ``imagehash`` / ``Pillow`` (the ``media`` extra).
    """
    try:
        import imagehash
        from PIL import Image, UnidentifiedImageError
    except ImportError as exc:
        raise MissingDependencyError("imagehash", "media") from exc
    root = Path(media_dir)
    if not root.is_dir():
        raise ConfigError("media_dir", "detect", "an existing folder of media files", str(root))
    by_stem: dict[str, Path] = {}
    by_name: dict[str, Path] = {}
    for f in sorted(root.rglob("*")):
        if f.is_file():
            by_stem.setdefault(f.stem, f)
            by_name.setdefault(f.name, f)
    where = "" if overwrite else " WHERE phash IS NULL"
    rows = store.con.execute(
        f"SELECT platform, post_id, position, media_key, url FROM post_media{where}"
    ).fetchall()
    cache: dict[Path, str | None] = {}
    updates = []
    for platform, post_id, position, key, url in rows:
        path = by_stem.get(key) if key else None
        if path is None and url:
            path = by_name.get(Path(urlparse(url).path).name)
        if path is None:
            continue
        if path not in cache:
            try:
                with Image.open(path) as img:
                    cache[path] = str(imagehash.phash(img))
            except (UnidentifiedImageError, OSError) as exc:
                _log.info("no perceptual hash for %s: %s", path, exc)
                cache[path] = None
        if cache[path] is not None:
            updates.append((cache[path], platform, post_id, position))
    if updates:
        known = [
            r[0]
            for r in store.con.execute(
                "SELECT DISTINCT phash FROM post_media WHERE phash IS NOT NULL ORDER BY phash"
            ).fetchall()
        ]
        snap = _snap([u[0] for u in updates], known)
        updates = [(snap[u[0]], *u[1:]) for u in updates]
        with store.transaction():
            store.con.executemany(
                "UPDATE post_media SET phash = ? WHERE platform = ? AND post_id = ? "
                "AND position = ?",
                updates,
            )
    return len(updates)


def _snap(new: list[str], known: list[str]) -> dict[str, str]:
    """Map each hash to the first hash (``known`` first, then ``new`` in order) within
    :data:`MAX_DISTANCE` bits of it."""
    import numpy as np

    order = list(dict.fromkeys([*known, *new]))
    bits = np.unpackbits(
        np.frombuffer(
            b"".join(bytes.fromhex(h.rjust(16, "0")) for h in order), dtype=np.uint8
        ).reshape(-1, 8),
        axis=1,
    ).astype(bool)
    rep_idx: list[int] = []
    out: dict[str, str] = {}
    for i, h in enumerate(order):
        if rep_idx:
            dist = (bits[rep_idx] != bits[i]).sum(axis=1)
            j = int(np.argmin(dist))
            if dist[j] <= MAX_DISTANCE:
                out[h] = order[rep_idx[j]]
                continue
        rep_idx.append(i)
        out[h] = h
    return out
