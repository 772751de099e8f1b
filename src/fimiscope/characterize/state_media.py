"""State-affiliated media: the shipped registry, user extensions, matching, amplification.

The registry ships as ``fimiscope/data/state_media/registry.csv``, built by
:func:`build_registry` from the State Media Profiles data set of the Alliance for Securing
Democracy (MIT; licence and attribution beside it). Typology is kept as given: only ``SC``
(state-controlled) counts as state-controlled; captured (``CaPu``, ``CaPr``) and independent
(``IP``, ``ISF``, ``ISM``, ``ISFM``) outlets are reported with their code and never counted as
state-controlled -- an editorially independent public broadcaster is not a state outlet.

References
----------
.. [1] Alliance for Securing Democracy (2023). State Media Profiles.
   https://github.com/ASD-at-GMF/state-media-profiles (MIT).
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urlsplit

from fimiscope.errors import ConfigError

REGISTRY_FILES = ("registry.csv", "supplement.csv")
STATE_CONTROLLED = frozenset({"SC"})

_PLATFORM_HOSTS = {
    "twitter.com": "x", "x.com": "x", "mobile.twitter.com": "x",
    "t.me": "telegram", "telegram.me": "telegram",
    "facebook.com": "facebook", "instagram.com": "instagram", "youtube.com": "youtube",
    "vk.com": "vk", "ok.ru": "ok", "tiktok.com": "tiktok", "linkedin.com": "linkedin",
    "bsky.app": "bluesky",
}  # fmt: skip
_LINK_COLUMNS = {
    "Twitter Link": "x", "Telegram Link": "telegram", "Facebook Link": "facebook",
    "Instagram Link": "instagram", "Youtube Link": "youtube", "VK Link": "vk",
    "Ok.ru link": "ok", "Tiktok Link": "tiktok", "Rutube Link": "rutube",
}  # fmt: skip
_PLATFORM_ALIASES = {"twitter": "x"}


@dataclass(frozen=True)
class Outlet:
    """One registry entry."""

    outlet: str
    company: str
    country: str
    typology: str
    domains: tuple[str, ...]
    handles: tuple[tuple[str, str], ...]
    source: str

    @property
    def state_controlled(self) -> bool:
        return self.typology in STATE_CONTROLLED


def normalise_host(host: str) -> str:
    """Lower-case host without port, trailing dot, ``www.``/``m.``/``mobile.`` prefixes.

    >>> normalise_host("WWW.RT.com:443.")
    'rt.com'
    """
    h = host.strip().lower().rstrip(".")
    h = h.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    if h.count(".") >= 2:
        h = re.sub(r"^(www\d*|m|mobile)\.", "", h)
    return h


def normalise_handle(handle: str) -> str:
    """Handle folded like ``accounts.handle_norm``: lower case, no leading ``@``.

    >>> normalise_handle("@RT_Russian")
    'rt_russian'
    """
    import unicodedata

    return unicodedata.normalize("NFKC", handle).strip().lstrip("@").lower()


def _split(url: str) -> tuple[str, list[str]]:
    u = url.strip()
    if "://" not in u:
        u = "https://" + u
    parts = urlsplit(u)
    return normalise_host(parts.netloc), [p for p in parts.path.split("/") if p]


def handle_from_link(url: str, platform: str | None = None) -> tuple[str, str] | None:
    """(platform, handle) of a profile link, e.g. ``https://www.twitter.com/rt`` -> ``("x", "rt")``.

    >>> handle_from_link("https://t.me/s/rt_russian/123")
    ('telegram', 'rt_russian')
    >>> handle_from_link("https://www.youtube.com/channel/UCpw")
    ('youtube', 'channel/ucpw')
    """
    host, path = _split(url)
    plat = platform or _PLATFORM_HOSTS.get(host)
    if plat is None or not path:
        return None
    if plat == "telegram" and path[0] == "s" and len(path) > 1:
        path = path[1:]
    if plat == "bluesky" and path[0] == "profile" and len(path) > 1:
        path = path[1:]
    if plat in ("youtube", "rutube") and path[0] in ("channel", "c", "user") and len(path) > 1:
        return plat, normalise_handle(path[0] + "/" + path[1])
    if plat == "ok" and path[0] == "group" and len(path) > 1:
        return plat, normalise_handle("group/" + path[1])
    return plat, normalise_handle(path[0])


class Registry:
    """Outlets indexed by domain and by (platform, handle).

    Parameters
    ----------
    outlets
        Entries; later entries with the same domain or handle take precedence (user lists
        override the shipped one).

    Examples
    --------
    >>> reg = Registry([Outlet("RT", "RT", "Russia", "SC", ("rt.com",), (("x", "rt"),), "t")])
    >>> reg.match_url("https://russian.RT.com/world/1").outlet
    'RT'
    >>> reg.match_url("https://notrt.com/") is None
    True
    >>> reg.match_url("https://x.com/RT/status/1").outlet
    'RT'
    """

    def __init__(self, outlets: Iterable[Outlet]) -> None:
        self.outlets: list[Outlet] = list(outlets)
        self.by_domain: dict[str, Outlet] = {}
        self.by_handle: dict[tuple[str, str], Outlet] = {}
        for o in self.outlets:
            for d in o.domains:
                self.by_domain[d] = o
            for h in o.handles:
                self.by_handle[h] = o

    def match_domain(self, host: str) -> Outlet | None:
        """Most specific registry domain equal to ``host`` or a parent of it."""
        labels = normalise_host(host).split(".")
        for i in range(len(labels) - 1):
            o = self.by_domain.get(".".join(labels[i:]))
            if o is not None:
                return o
        return None

    def match_handle(self, platform: str, handle: str) -> Outlet | None:
        plat = _PLATFORM_ALIASES.get(platform.lower(), platform.lower())
        return self.by_handle.get((plat, normalise_handle(handle)))

    def match_url(self, url: str) -> Outlet | None:
        """Outlet of a link: a profile or post link on a platform, or an outlet's own site."""
        host, _ = _split(url)
        if host in _PLATFORM_HOSTS:
            h = handle_from_link(url)
            return self.match_handle(*h) if h else None
        return self.match_domain(host)


def _read(path: Path | str, text: str | None = None) -> list[Outlet]:
    import io

    if text is None:
        text = Path(path).read_text(encoding="utf-8")
    with io.StringIO(text, newline="") as fh:
        rows = list(csv.DictReader(line for line in fh if not line.startswith("#")))
    need = {"outlet", "country", "typology", "domains", "handles"}
    if rows and not need <= set(rows[0]):
        raise ConfigError(
            "registry",
            "state media registry",
            "a CSV with columns outlet,company,country,typology,domains,handles,source",
            f"{path} with columns {sorted(rows[0])}",
        )
    out = []
    for r in rows:
        handles = []
        for item in (r.get("handles") or "").split():
            plat, _, h = item.partition(":")
            if not h:
                raise ConfigError(
                    "handles", f"state media registry {path}", "`platform:handle` items", item
                )
            handles.append((_PLATFORM_ALIASES.get(plat.lower(), plat.lower()), normalise_handle(h)))
        out.append(
            Outlet(
                outlet=r["outlet"].strip(),
                company=(r.get("company") or "").strip(),
                country=r["country"].strip(),
                typology=r["typology"].strip(),
                domains=tuple(normalise_host(d) for d in (r.get("domains") or "").split()),
                handles=tuple(handles),
                source=(r.get("source") or str(path)).strip(),
            )
        )
    return out


def load_registry(extra: Iterable[Path | str] = (), *, shipped: bool = True) -> Registry:
    """The shipped registry plus user lists (same CSV columns), later files overriding.

    A user list has the header ``outlet,company,country,typology,domains,handles,source``;
    ``domains`` and ``handles`` are space-separated (``x:sputnik_jp telegram:rian_ru``).
    """
    outlets: list[Outlet] = []
    if shipped:
        base = resources.files("fimiscope") / "data" / "state_media"
        for name in REGISTRY_FILES:
            f = base / name
            if f.is_file():
                outlets += _read(name, f.read_text(encoding="utf-8"))
    for p in extra:
        if not Path(p).is_file():
            raise ConfigError("state_media", "characterize", "existing CSV files", str(p))
        outlets += _read(p)
    return Registry(outlets)


def build_registry(matrix_csv: Path | str, out_csv: Path | str) -> int:
    """Turn ``State_Media_Matrix.csv`` into the shipped registry; return the number of rows.

    The outlet is the *Main assets* name; the domain comes from *URL* unless that URL is a
    platform profile (then it becomes a handle); handles come from the per-platform link
    columns.
    """
    n = 0
    with (
        Path(matrix_csv).open(newline="", encoding="utf-8") as fh,
        Path(out_csv).open("w", newline="", encoding="utf-8") as out,
    ):
        out.write(
            "# Built by"
            " fimiscope.characterize.state_media.build_registry from State_Media_Matrix.csv\n"
            "# of the State Media Profiles data set, (c) 2023"
            " ASD-at-GMF, MIT licence (see LICENSE).\n"
            "# Source: https://github.com/ASD-at-GMF/state-media-profiles "
            "commit d878fee1e0aecce9bd63a65ae826df84c6d80e59\n"
        )
        w = csv.writer(out, lineterminator="\n")
        w.writerow(["outlet", "company", "country", "typology", "domains", "handles", "source"])
        for r in csv.DictReader(fh):
            domains: list[str] = []
            handles: list[str] = []
            url = (r.get("URL") or "").strip()
            if url:
                host, _ = _split(url)
                if host in _PLATFORM_HOSTS or (
                    host == "rutube.ru" and r.get("Main assets") != "Rutube"
                ):
                    h = handle_from_link(url)
                    if h and not re.search(r"\s", h[1]):
                        handles.append(f"{h[0]}:{h[1]}")
                elif host and "." in host:
                    domains.append(host)
            for col, plat in _LINK_COLUMNS.items():
                link = (r.get(col) or "").strip()
                if link:
                    h = handle_from_link(link, plat)
                    if h and not re.search(r"\s", h[1]) and f"{h[0]}:{h[1]}" not in handles:
                        handles.append(f"{h[0]}:{h[1]}")
            w.writerow(
                [
                    (r.get("Main assets") or r.get("Media company") or "").strip(),
                    (r.get("Media company") or "").strip(),
                    (r.get("Country") or "").strip(),
                    (r.get("Typology") or "").strip(),
                    " ".join(domains),
                    " ".join(handles),
                    "ASD State Media Profiles",
                ]
            )
            n += 1
    return n
