"""Group dossier: foreign-origin indicators with strength and the innocent explanations.

Each indicator is a fact about the group measured elsewhere in the run, graded
``none`` / ``weak`` / ``moderate`` / ``strong`` by the thresholds below. The dossier never
attributes: several strong indicators make a case for an analyst to examine, no more.

============================  ===========================================================
indicator                     strong / moderate / weak
============================  ===========================================================
foreign_time_zone             interval excludes the audience's home offset and spans
                              <= 2 h / <= 4 h / excludes it at all
working_day_rhythm            office template beats leisure by > 50 / > 10 / > 0 log-lik.
holiday_calendar              ratio <= 0.3 / <= 0.6 / < 1 on a candidate country's holidays
state_media_amplification     share of members amplifying an SC outlet >= 0.5 / 0.2 / > 0
creation_bursts               median creation-burst share >= 0.3 / 0.15 / > 0.05
automation                    share of members flagged >= 0.5 / 0.2 / > 0.05
anomalous_boosts              flagged posts the group boosted >= 10 / 3 / >= 1
foreign_language_posts        share of non-audience-language posts >= 0.3 / 0.1 / > 0.02
============================  ===========================================================
"""

from __future__ import annotations

from typing import Any

import orjson

from fimiscope.characterize import timezone as tz

INNOCENT = {
    "foreign_time_zone": [
        "a diaspora community",
        "shift or night workers",
        "a newsroom's or agency's scheduler set to another zone",
    ],
    "working_day_rhythm": ["professional accounts (newsrooms, PR, campaign staff) posting at work"],
    "holiday_calendar": [
        "too few holidays in the window to tell",
        "members who share a religion or profession",
    ],
    "state_media_amplification": [
        "users who share international news, or quote it to criticise or debunk it"
    ],
    "creation_bursts": ["people who joined together (a platform migration, a sign-up drive)"],
    "automation": ["scheduled posting tools used by legitimate organisations"],
    "anomalous_boosts": [
        "a fan community's agreed repost party",
        "an organisation asking its members to share",
    ],
    "foreign_language_posts": ["bilingual users", "learners of the language"],
}


def _grade(v: float | None, strong: float, moderate: float, weak: float) -> str:
    if v is None:
        return "none"
    return (
        "strong" if v >= strong else "moderate" if v >= moderate else "weak" if v > weak else "none"
    )


def _one(con: Any, sql: str, params: list[Any]) -> Any:
    rows = con.execute(sql, params).fetchall()
    return rows[0] if rows else None


def build_dossiers(con: Any, run_id: str, coord_run: str | None, lang: str) -> int:
    """Write one ``group_dossier`` row per group of ``coord_run``; return how many."""
    if coord_run is None:
        return 0
    groups = con.execute(
        "SELECT group_id, size FROM coord_groups WHERE run_id = ? ORDER BY group_id", [coord_run]
    ).fetchall()
    home = tz.LANGUAGE_HOME_OFFSET.get(lang)
    for gid, size in groups:
        ind: list[dict[str, Any]] = []
        g = _one(
            con,
            "SELECT offset_hours, ci_low, ci_high, template, profile, holiday_check, "
            "main_language, n_actions FROM group_timezone WHERE run_id = ? AND group_id = ?",
            [run_id, gid],
        )
        if g is not None:
            off, lo, hi, tpl, _, hol, main_lang, n = g
            excl = home is not None and not (lo <= home <= hi)
            width = hi - lo
            strength = (
                ("strong" if width <= 2 else "moderate" if width <= 4 else "weak")
                if excl
                else "none"
            )
            ind.append(
                {
                    "name": "foreign_time_zone",
                    "value": off,
                    "strength": strength,
                    "evidence": f"{n} timed actions fit UTC{off:+d} (95 %"
                    f" interval {lo:+d}..{hi:+d}, "
                    f"{tpl} rhythm); the audience language '{lang}'"
                    f" implies UTC{home:+d}; the group "
                    f"writes mostly in '{main_lang}'.",
                }
            )
            ll = _tpl_gap(con, run_id, gid)
            ind.append(
                {
                    "name": "working_day_rhythm",
                    "value": ll,
                    "strength": _grade(ll, 50, 10, 0),
                    "evidence": "log-likelihood of the office-hours rhythm"
                    " minus the leisure rhythm "
                    f"at their best offsets: {ll:.1f}.",
                }
            )
            hc = orjson.loads(hol) if hol else {}
            ratios = {
                c: v.get("ratio")
                for c, v in hc.items()
                if isinstance(v, dict)
                and v.get("ratio") is not None
                # quiet on the audience's own holidays is what a domestic group does
                and tz.COUNTRY_OFFSET.get(c) != home
            }
            cand = min(ratios.items(), key=lambda kv: kv[1]) if ratios else None
            ind.append(
                {
                    "name": "holiday_calendar",
                    "value": cand[1] if cand else None,
                    "strength": "none" if cand is None else _grade(1 - cand[1], 0.7, 0.4, 0.0),
                    "evidence": (
                        f"activity on {cand[0]} public holidays is {cand[1]:.2f} x a normal weekday"
                        if cand
                        else "no candidate country's holiday fell on a "
                        "weekday inside the observation window: not testable"
                    ),
                }
            )
        sm = _one(
            con,
            "SELECT count(DISTINCT account_id) FROM state_media_amplification "
            "WHERE run_id = ? AND group_id = ? AND state_controlled",
            [run_id, gid],
        )
        share = (sm[0] / size) if sm and size else 0.0
        outs = con.execute(
            "SELECT outlet, sum(n) FROM state_media_amplification WHERE run_id = ? "
            "AND group_id = ? AND state_controlled GROUP BY outlet ORDER BY 2 DESC "
            "LIMIT 5",
            [run_id, gid],
        ).fetchall()
        ind.append(
            {
                "name": "state_media_amplification",
                "value": round(share, 3),
                "strength": _grade(share, 0.5, 0.2, 0.0),
                "evidence": f"{sm[0] if sm else 0} of {size} members"
                f" amplified state-controlled outlets"
                + (": " + ", ".join(f"{o} ({int(k)})" for o, k in outs) if outs else "."),
            }
        )
        cb = _one(
            con,
            "SELECT median(creation_burst_share), count(*) FROM account_features "
            "WHERE run_id = ? AND group_id = ?",
            [run_id, gid],
        )
        v = cb[0] if cb else None
        ind.append(
            {
                "name": "creation_bursts",
                "value": v,
                "strength": _grade(v, 0.3, 0.15, 0.05),
                "evidence": "median member shares its creation date (+-3 days) with "
                f"{0 if v is None else v:.0%} of the group.",
            }
        )
        au = _one(
            con,
            "SELECT avg(CASE WHEN a.flagged THEN 1.0 ELSE 0.0 END), median(a.score) "
            "FROM account_automation a JOIN account_features f"
            " USING (run_id, platform, account_id) "
            "WHERE a.run_id = ? AND f.group_id = ?",
            [run_id, gid],
        )
        v = au[0] if au else None
        ind.append(
            {
                "name": "automation",
                "value": v,
                "strength": _grade(v, 0.5, 0.2, 0.05),
                "evidence": f"{0 if v is None else v:.0%} of members"
                f" flagged by the automation score "
                f"(median score {0 if not au or au[1] is None else au[1]:.2f}).",
            }
        )
        fb = _one(
            con,
            "SELECT count(DISTINCT d.post_id) FROM post_dissemination d, "
            "unnest(from_json(json_extract(d.evidence,"
            " '$.burst_accounts'), '[\"VARCHAR\"]')) AS u(acc) "
            "JOIN coord_members m ON m.account_id = u.acc AND m.platform = d.platform "
            "WHERE d.run_id = ? AND d.flagged AND m.run_id = ? AND m.group_id = ?",
            [run_id, coord_run, gid],
        )
        v = fb[0] if fb else 0
        ind.append(
            {
                "name": "anomalous_boosts",
                "value": v,
                "strength": _grade(v, 10, 3, 0.5),
                "evidence": f"members were in the burst of {v} flagged posts.",
            }
        )
        fl = _one(
            con,
            "SELECT avg(CASE WHEN p.lang <> ? THEN 1.0 ELSE 0.0 END), count(*) FROM posts p "
            "JOIN coord_members m USING (platform, account_id) WHERE m.run_id = ? AND "
            "m.group_id = ? AND p.kind <> 'repost' AND p.lang IS NOT NULL",
            [lang, coord_run, gid],
        )
        v = fl[0] if fl else None
        ind.append(
            {
                "name": "foreign_language_posts",
                "value": v,
                "strength": _grade(v, 0.3, 0.1, 0.02),
                "evidence": f"{0 if v is None else v:.0%} of {fl[1] if fl else 0} own posts "
                f"are not in '{lang}'.",
            }
        )
        for i in ind:
            i["innocent_explanations"] = INNOCENT[i["name"]]
        n_strong = sum(i["strength"] == "strong" for i in ind)
        n_mod = sum(i["strength"] == "moderate" for i in ind)
        names = ", ".join(i["name"] for i in ind if i["strength"] in ("strong", "moderate"))
        summary = (
            f"Group {gid} ({size} accounts): {n_strong} strong and {n_mod} moderate foreign-origin "
            f"indicators{': ' + names if names else ''}. Indicators are not attribution; each has "
            "innocent explanations listed with it."
        )
        con.execute(
            "INSERT INTO group_dossier VALUES (?, ?, ?, ?, ?, ?)",
            [run_id, coord_run, gid, size, orjson.dumps(ind, default=str).decode(), summary],
        )
    return len(groups)


def _tpl_gap(con: Any, run_id: str, gid: int) -> float:
    import numpy as np

    row = _one(
        con,
        "SELECT hour_of_week FROM group_timezone WHERE run_id = ? AND group_id = ?",
        [run_id, gid],
    )
    c = np.array(orjson.loads(row[0]), dtype=float)
    best = {}
    for name, t in tz.TEMPLATES.items():
        best[name] = tz.estimate_offset(c, templates={name: t}).loglik
    return round(best["office"] - best["leisure"], 2)
