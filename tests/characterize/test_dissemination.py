"""The burst test on hand-made arrival patterns, and one end-to-end run on a small scenario."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import orjson
import pytest

from fimiscope.characterize.dissemination import BurstParams, burst_scan, iet_cv


def _scan(times: list[np.ndarray]) -> dict[str, np.ndarray]:
    idx = np.concatenate([np.full(len(t), i) for i, t in enumerate(times)])
    t = np.concatenate([np.sort(t) for t in times])
    return burst_scan(idx, t, len(times), BurstParams())


def test_pile_on_fans_and_quiet_posts() -> None:
    rng = np.random.default_rng(0)
    pile_on = np.r_[rng.uniform(0, 40, 60), rng.uniform(600, 40_000, 10)]  # 60 in 40 s
    fans = np.exp(rng.normal(np.log(1500), 1.0, 150))  # human delays, median 25 min
    quiet = np.array([0.0, 900.0, 4000.0, 9000.0, 20000.0])
    r = _scan([pile_on, fans, quiet])
    p = BurstParams()
    assert r["count"][0] >= 60 and r["p"][0] < p.alpha
    assert r["count"][0] >= p.min_ratio * r["expected"][0]
    assert not (r["p"][1] <= p.alpha and r["count"][1] >= p.min_ratio * r["expected"][1])
    assert r["count"][2] == 1 and r["p"][2] > p.alpha
    # worked example: 10 arrivals in a window whose surrounding hour holds 5 more ->
    # expected 5 / 3600 * 60, Poisson tail P(X >= 10) times 15 windows scanned
    from scipy.stats import poisson

    t = np.r_[np.arange(10.0), 100 + 600 * np.arange(5.0)]
    r = _scan([t])
    assert r["count"][0] == 10
    assert r["p"][0] == pytest.approx(poisson.sf(9, 5 / 3600 * 60) * 15)


def test_iet_cv() -> None:
    assert iet_cv(np.array([0.0, 10.0, 20.0, 30.0])) == 0.0
    assert iet_cv(np.array([1.0, 2.0])) is None


@pytest.mark.slow
def test_end_to_end_small_scenario(tmp_path: Path) -> None:
    from fimiscope.characterize import characterize
    from fimiscope.coordination import detect
    from fimiscope.ingest import ingest
    from fimiscope.simulate import generate_scenario
    from fimiscope.store import Store

    files = generate_scenario(tmp_path / "s", actions=20_000, seed=3)
    with Store(tmp_path / "s.duckdb") as store:
        ingest(store, [files.x_v2, files.x_liking_users, files.jetstream])
        det = detect(store)
        res = characterize(store, coordination_run=det.run_id, bootstrap=20)
        assert store.run(res.run_id)["status"] == "ok"
        for t in ("account_features", "account_automation", "post_dissemination"):
            n = store.sql(f"SELECT count(*) FROM {t} WHERE run_id = ?", [res.run_id])[0][0]
            assert n > 0, t
        truth = orjson.loads(files.ground_truth.read_bytes())
        bots = {
            (a["platform"], a["account_id"])
            for o in truth["operations"]
            if o["id"] == "op_bot_network"
            for a in o["accounts"]
        }
        flagged = set(res.flagged_posts)
        breaking = {
            (p["platform"], p["post_id"])
            for b in truth["benign"]
            if b["id"] == "benign_breaking"
            for p in b["posts"]
        }
        assert not flagged & breaking
        for gid, g in res.group_timezones.items():
            members = store.sql(
                "SELECT platform, account_id FROM coord_members WHERE run_id = ? AND group_id = ?",
                [det.run_id, gid],
            )
            if np.mean([tuple(m) in bots for m in members]) > 0.9 and g["n_actions"] > 300:
                assert abs(g["offset_hours"] - 3) <= 1
        dossier = store.sql("SELECT indicators FROM group_dossier WHERE run_id = ?", [res.run_id])
        assert len(dossier) == len(res.group_timezones)
        for (ind,) in dossier:
            assert all(i["innocent_explanations"] for i in orjson.loads(ind))
