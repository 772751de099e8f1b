"""Pseudonymisation of every export: consistent tokens, public-interest accounts, no leaks."""

from __future__ import annotations

import re
from pathlib import Path

import pyarrow.parquet as pq

from fimiscope.report import write_notice, write_report, write_research, write_stix
from fimiscope.report.pseudonymise import (
    Identities,
    Pseudonymiser,
    public_interest,
    read_public_list,
)
from fimiscope.store import Store

from .conftest import confirm, detect_run


def _raw_identifiers(store: Store) -> dict[str, str]:
    """Raw ids and handles an export must not show: every group member, every account the
    members' posts reference or mention, with public-interest outlets left out."""
    run = detect_run(store)
    rows = store.sql(
        "WITH m AS (SELECT platform, account_id FROM coord_members WHERE run_id = ?), "
        "refs AS (SELECT p.platform, p.ref_account_id AS account_id FROM posts p JOIN m "
        "USING (platform, account_id) WHERE p.ref_account_id IS NOT NULL "
        "UNION SELECT p.platform, pm.mentioned_account_id FROM post_mentions pm JOIN posts p "
        "USING (platform, post_id) JOIN m ON m.platform = p.platform AND m.account_id = "
        "p.account_id WHERE pm.mentioned_account_id IS NOT NULL), "
        "everyone AS (SELECT * FROM m UNION SELECT * FROM refs) "
        "SELECT e.platform, e.account_id, a.handle FROM everyone e LEFT JOIN accounts a "
        "USING (platform, account_id)",
        [run],
    )
    public = public_interest(store).accounts
    out: dict[str, str] = {}
    for platform, account_id, handle in rows:
        if (platform, account_id) in public:
            continue
        out[account_id] = f"{platform} account id"
        if handle and len(handle) >= 4:
            out[handle.lower()] = f"{platform} handle"
    assert len(out) > 50
    return out


def _file_text(path: Path) -> str:
    if path.suffix == ".parquet":
        return "\n".join(str(v) for col in pq.read_table(path).to_pylist() for v in col.values())
    return path.read_text(encoding="utf-8")


def _leaks(text: str, raw: dict[str, str]) -> list[str]:
    low = text.lower()
    return [
        ident
        for ident in raw
        if ident.lower() in low and re.search(rf"(?<![\w.]){re.escape(ident.lower())}(?![\w])", low)
    ]


def test_no_raw_identifier_in_any_export(astore: Store, key: Path, tmp_path: Path) -> None:
    confirm(astore, 0, 1)
    raw = _raw_identifiers(astore)
    files = [
        write_report(astore, tmp_path / "r.html", key_path=key, include="all"),
        write_stix(astore, tmp_path / "s.json", key_path=key, include="all"),
        write_notice(astore, tmp_path / "n.json", platform="x", key_path=key, include="all"),
        write_notice(astore, tmp_path / "n.csv", platform="x", fmt="csv", key_path=key),
        write_notice(astore, tmp_path / "b.json", platform="bluesky", key_path=key, include="all"),
        *write_research(astore, tmp_path / "research", key_path=key),
    ]
    assert any(p.suffix == ".gexf" for p in files) and any(p.suffix == ".parquet" for p in files)
    key_text = key.read_text().strip()
    for path in files:
        text = _file_text(path)
        assert not _leaks(text, raw), (path.name, _leaks(text, raw)[:5])
        assert key_text not in text
        assert "did:plc:" not in text, path.name
    # The same export made raw does show them (the scan can fail).
    raw_report = write_report(astore, tmp_path / "raw.html", include="all", pseudonymise=False)
    assert _leaks(_file_text(raw_report), raw)


def test_tokens_consistent_for_the_same_key(astore: Store, tmp_path: Path) -> None:
    confirm(astore, 0)
    k1, k2 = tmp_path / "k1", tmp_path / "k2"
    tok = re.compile(r"p_[0-9a-f]{24}")
    a = set(tok.findall(write_report(astore, tmp_path / "a.html", key_path=k1).read_text()))
    b = set(tok.findall(write_stix(astore, tmp_path / "b.json", key_path=k1).read_text()))
    c = set(tok.findall(write_report(astore, tmp_path / "c.html", key_path=k2).read_text()))
    members = {
        Pseudonymiser.from_key_file(k1).token(p, "account", a_)
        for p, a_ in astore.sql(
            "SELECT platform, account_id FROM coord_members WHERE run_id = ? AND group_id = 0",
            [detect_run(astore)],
        )
    }
    assert members <= a and members <= b
    assert not members & c  # another key, other tokens


def test_public_interest_accounts_stay_named(astore: Store, key: Path, tmp_path: Path) -> None:
    # The registry's outlets that the scenario has (RT, Sputnik, ...) are found.
    outlets = public_interest(astore).accounts
    assert outlets and all("state-affiliated outlet" in r for r in outlets.values())
    # An analyst lists one group member as an official account.
    run = confirm(astore, 0)
    (platform, account_id, handle), *others = astore.sql(
        "SELECT m.platform, m.account_id, a.handle FROM coord_members m JOIN accounts a "
        "USING (platform, account_id) WHERE m.run_id = ? AND m.group_id = 0 ORDER BY 2",
        [run],
    )
    listing = tmp_path / "public.txt"
    listing.write_text(f"# officials\n{platform}:@{handle.upper()}  ministry spokesperson\n")
    assert read_public_list(listing) == [(platform, handle.upper(), "ministry spokesperson")]
    html = write_report(
        astore, tmp_path / "p.html", key_path=key, public_accounts=listing
    ).read_text()
    assert account_id in html and "ministry spokesperson" in html
    assert not any(re.search(rf"(?<!\w){o[1]}(?!\w)", html) for o in others)


def test_scrub_free_text() -> None:
    ids = Identities(
        Pseudonymiser(b"s" * 32),
        known=[("x", "12345", "alice_jp"), ("bluesky", "did:plc:abc123", "bob.bsky.social")],
    )
    out = ids.scrub(
        "RT @Alice_JP: see at://did:plc:abc123/app.bsky.feed.post/1 and 12345, "
        "not 9123456 @bob.bsky.social.",
        "x",
    )
    assert out is not None
    assert "alice" not in out.lower() and "did:plc" not in out and "bob.bsky" not in out
    assert " 12345" not in out and "9123456" in out  # word boundaries respected
    assert out.endswith(".")
    # Unknown mentions become tokens too; the same handle gets the same token.
    assert ids.scrub("@stranger", "x") == ids.scrub("@Stranger", "x")
    assert Identities(None).scrub("@alice 12345", "x") == "@alice 12345"
    assert ids.post("bluesky", "at://did:plc:abc123/app.bsky.feed.post/1").startswith("at://p_")
    assert ids.post_url("bluesky", "at://did:plc:abc123/x/1", "https://bsky.app/x") is None
