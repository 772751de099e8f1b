"""Accounts of one platform: organic users, the bot network and the benign special accounts."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fimiscope.simulate.config import DAY_MS, HOUR_MS, Plan, PlatformPlan, utc_ms
from fimiscope.simulate.ids import did_plc, snowflake

ORG, BOT, FAN, IDOL, NEWS, STATE, ALERT = range(7)
GROUP_NAMES = ("organic", "bot", "fan", "idol", "news", "state_media", "alert")

_ROMAJI = (
    "yuki",
    "haruto",
    "sakura",
    "ren",
    "aoi",
    "hina",
    "sota",
    "yui",
    "riku",
    "mei",
    "kaito",
    "rin",
    "takumi",
    "miyu",
    "daiki",
    "nana",
    "kenta",
    "saki",
    "shota",
    "mana",
    "ryo",
    "airi",
    "yuto",
    "emi",
    "kazu",
    "mika",
    "taro",
    "hana",
    "jun",
    "nao",
    "shin",
    "kei",
)
_WORDS = (
    "cafe",
    "neko",
    "inu",
    "tabi",
    "blue",
    "sora",
    "umi",
    "mori",
    "life",
    "diary",
    "days",
    "note",
    "gohan",
    "run",
    "camp",
    "book",
    "music",
    "photo",
    "tokyo",
    "osaka",
    "kyoto",
)
_NICK = (
    "ゆき",
    "はると",
    "さくら",
    "れん",
    "あおい",
    "ひな",
    "そうた",
    "ゆい",
    "りく",
    "めい",
    "たろう",
    "はな",
    "けんた",
    "まな",
    "なお",
    "しん",
    "ケイ",
    "ミカ",
    "ジュン",
    "エミ",
    "猫好き",
    "通りすがりの会社員",
    "主婦",
    "大学生",
    "田中",
    "佐藤",
    "鈴木",
    "高橋",
    "山本",
    "会社員A",
    "名無し",
    "ぽん太",
    "みかん",
    "もち",
)
_DESC = (
    "会社員。日常のこと。",
    "東京在住 / 猫 / コーヒー",
    "政治とお金の話をゆるく",
    "二児の母です",
    "大学生 📚",
    "無言フォロー失礼します",
    "旅行とカメラ",
    "アニメ・ゲーム垢",
    "地方公務員",
    "看護師してます",
    "",
    "",
    "",
    "",
)
_LOC = (
    "東京",
    "東京都",
    "大阪府",
    "神奈川",
    "日本",
    "Japan",
    "福岡",
    "北海道",
    "埼玉県",
    "愛知",
    "",
    "",
    "",
    "",
    "",
    "",
    "",
)
_EN_NAMES = ("alex", "sam", "jordan", "chris", "emma", "liam", "noah", "olivia", "mia", "leo")
_SPECIAL = {
    IDOL: (("mio_official_jp", "澪 (MIO) official", "アイドル。7/18 新曲リリース！"),),
    NEWS: (
        ("nhk_news", "NHKニュース", "NHKのニュースをお伝えします"),
        ("asahi", "朝日新聞デジタル", "朝日新聞デジタルの公式アカウントです"),
        ("Yomiuri_Online", "読売新聞オンライン", "読売新聞オンラインの公式アカウント"),
        ("nikkei", "日本経済新聞 電子版", "日経電子版の公式アカウント"),
        ("mainichi", "毎日新聞", "毎日新聞の公式アカウントです"),
        ("kyodo_official", "共同通信公式", "共同通信の公式アカウント"),
    ),
    STATE: (
        ("sputnik_jp", "スプートニク日本", "スプートニク日本語版の公式アカウント"),
        ("RT_russian", "RT на русском", "Новости RT на русском языке"),
        ("SputnikInt", "Sputnik", "Sputnik international news"),
    ),
    ALERT: (("bousai_sokuho", "防災速報", "地震・津波・気象の速報を自動配信"),),
}


@dataclass
class Population:
    """Per-account arrays of one platform (index = account number within the platform)."""

    platform: str
    group: np.ndarray
    lang: np.ndarray
    created_ms: np.ndarray
    followers: np.ndarray
    following: np.ndarray
    statuses: np.ndarray
    activity: np.ndarray
    default_img: np.ndarray
    handle: list[str]
    name: list[str]
    desc: list[str]
    location: list[str]
    xid: np.ndarray
    did: list[str]
    participation: np.ndarray
    bursts: list[dict[str, object]] = field(default_factory=list)

    def members(self, group: int) -> np.ndarray:
        """Return the indices of the accounts in ``group``."""
        return np.flatnonzero(self.group == group)

    def account_id(self, idx: int) -> str:
        """Return the platform id (X numeric string or Bluesky DID) of account ``idx``."""
        return self.did[idx] if self.platform == "bluesky" else str(int(self.xid[idx]))


def _counts(pp: PlatformPlan) -> list[tuple[int, int]]:
    return [
        (ORG, pp.n_organic),
        (BOT, pp.n_bots),
        (FAN, pp.n_fans),
        (IDOL, 1),
        (NEWS, pp.n_news),
        (STATE, pp.n_state),
        (ALERT, 1),
    ]


def build_population(plan: Plan, pp: PlatformPlan, rng: np.random.Generator) -> Population:
    """Build the accounts of one platform.

    Bots are created in the configured bursts during Moscow working hours and have default
    profiles, long digit handles, few followers and many followings.
    """
    cfg = plan.config
    group = np.concatenate([np.full(n, g, dtype=np.int8) for g, n in _counts(pp)])
    n = len(group)
    is_bsky = pp.platform == "bluesky"
    lang = np.zeros(n, dtype=np.int8)
    org = group == ORG
    lang[org & (rng.random(n) < cfg.english_share)] = 1
    st = np.flatnonzero(group == STATE)
    if not is_bsky and len(st) >= 3:
        lang[st[1]] = 2
        lang[st[2]] = 1
    first = utc_ms("2023-02-17T00:00:00+00:00" if is_bsky else "2008-06-01T00:00:00+00:00")
    last = plan.start - 30 * DAY_MS
    span = last - first
    created = first + (span * rng.beta(1.6, 1.2, n)).astype(np.int64)
    bots = np.flatnonzero(group == BOT)
    bursts: list[dict[str, object]] = []
    which = rng.integers(0, len(cfg.bot_bursts), len(bots))
    for b, (day, days) in enumerate(cfg.bot_bursts):
        sel = bots[which == b]
        d0 = utc_ms(day + "T06:00:00+00:00")  # 09:00 Moscow
        created[sel] = (
            d0 + rng.integers(0, days, len(sel)) * DAY_MS + rng.integers(0, 9 * HOUR_MS, len(sel))
        )
        bursts.append({"start": day, "days": days, "accounts": len(sel)})
    followers = np.round(np.exp(rng.normal(np.log(120), 1.6, n))).astype(np.int64)
    following = np.round(np.exp(rng.normal(np.log(200), 1.0, n))).astype(np.int64)
    followers[bots] = rng.integers(0, 25, len(bots))
    following[bots] = rng.integers(400, 2500, len(bots))
    big = {IDOL: 250_000, NEWS: 1_500_000, STATE: 90_000, ALERT: 2_000_000}
    for g, base in big.items():
        idx = np.flatnonzero(group == g)
        followers[idx] = (base * rng.uniform(0.5, 2.0, len(idx))).astype(np.int64)
        following[idx] = rng.integers(0, 300, len(idx))
        created[idx] = first + (rng.uniform(0.0, 0.3, len(idx)) * span).astype(np.int64)
    statuses = np.round(np.exp(rng.normal(np.log(2000), 1.5, n))).astype(np.int64)
    statuses[bots] = rng.integers(300, 5000, len(bots))
    activity = np.exp(rng.normal(0.0, cfg.activity_sigma, n))
    activity[~org] = 0.0
    default_img = (rng.random(n) < 0.06) & org
    default_img[bots] = rng.random(len(bots)) < 0.85
    participation = np.zeros(n)
    lo, hi = cfg.bot_participation
    participation[bots] = rng.uniform(lo, hi, len(bots))
    digits = rng.integers(0, 10**8, n)
    small = rng.integers(0, 10000, n)
    handle, name, desc, loc = [], [], [], []
    picks = rng.integers(0, 1 << 30, (n, 5))
    special_seen: dict[int, int] = {}
    for i in range(n):
        g = int(group[i])
        p = picks[i]
        if g in _SPECIAL:
            k = special_seen.get(g, 0)
            special_seen[g] = k + 1
            h, nm, ds = _SPECIAL[g][k % len(_SPECIAL[g])]
            if k >= len(_SPECIAL[g]):
                h = f"{h}{k}"
            handle.append(h.lower().replace("_", "") if is_bsky else h)
            name.append(nm)
            desc.append(ds)
            loc.append("" if g == STATE else "東京")
            continue
        base = _EN_NAMES[p[0] % len(_EN_NAMES)] if lang[i] == 1 else _ROMAJI[p[0] % len(_ROMAJI)]
        if g == BOT:
            handle.append(f"{base}{int(digits[i]):08d}")
            name.append(_NICK[p[1] % 20] if p[2] % 3 else handle[-1])
            desc.append("")
            loc.append("")
            continue
        style = p[3] % 4
        word = _WORDS[p[4] % len(_WORDS)]
        if style == 0:
            h = f"{base}_{word}"
        elif style == 1:
            h = f"{base}{int(small[i]) % 1000}"
        elif style == 2:
            h = f"{word}_{base}{int(small[i]) % 100}"
        else:
            h = f"{base}{word}{int(small[i]) % 10000}"
        handle.append(h + ("" if (i % 7) else f"_{i % 97}"))
        name.append(_NICK[p[1] % len(_NICK)] + ("" if p[2] % 5 else "🌸"))
        desc.append(_DESC[p[2] % len(_DESC)] if lang[i] != 1 else "")
        loc.append(_LOC[p[4] % len(_LOC)])
    # handles must be unique on a platform: suffix the index on collisions
    seen: set[str] = set()
    for i, h in enumerate(handle):
        if h in seen:
            handle[i] = f"{h}{i}"
        seen.add(handle[i])
    if is_bsky:
        handle = [h if "." in h else h.replace("_", "-") + ".bsky.social" for h in handle]
    old = created < utc_ms("2014-01-01T00:00:00+00:00")
    seq = 10_000_000 + ((created - first) / (span + 1) * 2.2e9).astype(np.int64) + small
    xid = np.where(old, seq, snowflake(created, np.arange(n)))
    did = [did_plc(f"{plan.seed}:{i}:{handle[i]}".encode()) for i in range(n)] if is_bsky else []
    return Population(
        pp.platform,
        group,
        lang,
        created,
        followers,
        following,
        statuses,
        activity,
        default_img,
        handle,
        name,
        desc,
        loc,
        xid,
        did,
        participation,
        bursts,
    )
