"""Write the likes collected by :class:`XWriter` as twarc2 ``liking_users`` pages.

On X like times are unknown; the liked tweet's id appears only in the request URL.
"""

from __future__ import annotations

from typing import IO, Any

import numpy as np
import orjson

from fimiscope.simulate.x_v2 import _TWARC, _USER_FIELDS, XWriter


def write_liking_users(fh: IO[bytes], xw: XWriter) -> int:
    """Write liking_users pages (most recent liker first); return the number of likes."""
    if not xw.likes:
        return 0
    lk = np.concatenate(xw.likes)
    order = np.lexsort((-lk[:, 2], lk[:, 0]))
    lk = lk[order]
    _, first = np.unique(lk[:, :2], axis=0, return_index=True)
    lk = lk[np.sort(first)]
    starts = np.flatnonzero(np.r_[True, lk[1:, 0] != lk[:-1, 0]])
    ends = np.r_[starts[1:], len(lk)]
    for a, b in zip(starts, ends, strict=True):
        sid = xw.tweet_id(int(lk[a, 0]))
        url = (
            f"https://api.twitter.com/2/tweets/{sid}/liking_users?max_results=100&user.fields="
            + _USER_FIELDS.replace(",", "%2C")
        )
        for k, p in enumerate(range(a, b, 100)):
            chunk = lk[p : min(b, p + 100), 1]
            meta: dict[str, Any] = {"result_count": len(chunk)}
            if p + 100 < b:
                meta["next_token"] = f"7140dibdnow9c7btw4{sid % 10**8:08d}{k:03d}"
            page_url = (
                url
                if k == 0
                else url + f"&pagination_token=7140dibdnow9c7btw4{sid % 10**8:08d}{k - 1:03d}"
            )
            twarc = {"url": page_url, "version": _TWARC, "retrieved_at": xw.retrieved}
            fh.write(
                b"".join(
                    [
                        b'{"data":[',
                        b",".join(xw.user(int(u)) for u in chunk),
                        b'],"meta":',
                        orjson.dumps(meta),
                        b',"__twarc":',
                        orjson.dumps(twarc),
                        b"}\n",
                    ]
                )
            )
    return len(lk)
