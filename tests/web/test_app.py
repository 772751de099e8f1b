"""Route-level tests of the dashboard over real HTTP (uvicorn on 127.0.0.1): authentication on
every route, CSRF, roles per action, cookies, headers, rate limiting, escaping, pagination."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute
from tests.web.conftest import (
    HOSTILE_POST,
    JAPANESE,
    JAPANESE_POST,
    PASSWORDS,
    Http,
    Scenario,
    Server,
    copy_store,
    csrf_of,
    page_csrf,
    start_server,
)

PUBLIC = {"/login", "/login/style.css", "/healthz"}


def _fill(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_every_route_but_login_and_health_refuses_without_a_session(server: Server) -> None:
    routes = [r for r in server.app.routes if isinstance(r, APIRoute)]
    paths = {r.path for r in routes}
    assert paths >= PUBLIC
    checked = 0
    with httpx.Client(base_url=server.url, follow_redirects=False) as anon:
        for route in routes:
            if route.path in PUBLIC:
                continue
            for method in route.methods:
                url = _fill(route.path)
                # A browser asking for a page is sent to the log-in page ...
                r = anon.request(method, url, headers={"accept": "text/html"})
                if method == "GET":
                    assert r.status_code == 303, (method, url, r.status_code)
                    assert r.headers["location"].startswith("/login?next="), url
                else:
                    assert r.status_code == 401, (method, url, r.status_code)
                # ... anything else gets 401, and never any data.
                r = anon.request(method, url, headers={"accept": "application/json"})
                assert r.status_code == 401, (method, url, r.status_code)
                assert "group" not in r.text.lower()
                checked += 1
    assert checked >= 15
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get("/healthz").json() == {"ok": True}
        assert anon.get("/login").status_code == 200


def test_unknown_paths_also_need_no_session_to_be_refused(server: Server) -> None:
    with httpx.Client(base_url=server.url) as anon:
        assert anon.get("/static/app.css").status_code == 401
        assert anon.get("/static/../../etc/passwd").status_code in (401, 404)


def test_login_sets_strict_http_only_cookie_and_logout_ends_the_session(
    http: Http, server: Server
) -> None:
    client = http.client(server.url)
    form = client.get("/login")
    r = client.post(
        "/login",
        data={"username": "ana", "password": PASSWORDS["ana"], "csrf_token": csrf_of(form.text)},
    )
    assert r.status_code == 303
    cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("fimiscope_session"))
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback: a Secure cookie would never return
    assert client.get("/").status_code == 200
    stolen = dict(client.cookies)
    r = client.post("/logout", data={"csrf_token": page_csrf(client)})
    assert r.status_code == 303 and r.headers["location"] == "/login"
    replay = http.client(server.url, cookies=stolen)
    assert replay.get("/", headers={"accept": "text/html"}).status_code == 303


def test_wrong_password_and_unknown_user_are_refused_alike(http: Http, server: Server) -> None:
    for name, pw in (("ana", "not the password"), ("nobody", "whatever it is")):
        client = http.client(server.url)
        form = client.get("/login")
        r = client.post(
            "/login", data={"username": name, "password": pw, "csrf_token": csrf_of(form.text)}
        )
        assert r.status_code == 401
        assert "Wrong user name or password" in r.text
        assert "fimiscope_session" not in r.headers.get("set-cookie", "")


def test_login_form_needs_its_csrf_token(http: Http, server: Server) -> None:
    client = http.client(server.url)
    good = {"username": "ana", "password": PASSWORDS["ana"]}
    assert client.post("/login", data=good).status_code == 403  # no token at all
    token = csrf_of(client.get("/login").text)
    other = http.client(server.url)  # token without its cookie
    assert other.post("/login", data={**good, "csrf_token": token}).status_code == 403
    assert client.post("/login", data={**good, "csrf_token": token + "x"}).status_code == 403
    # Each form shown carries a fresh token tied to a fresh cookie.
    token = csrf_of(client.get("/login").text)
    assert client.post("/login", data={**good, "csrf_token": token}).status_code == 303


def test_login_rate_limit(http: Http, scenario: Scenario, tmp_path: Path) -> None:
    srv = start_server(
        copy_store(scenario, tmp_path / "s.duckdb"), login_attempts=3, login_window_s=60
    )
    try:
        client = http.client(srv.url)

        def attempt(pw: str) -> httpx.Response:
            token = csrf_of(client.get("/login").text)
            return client.post(
                "/login", data={"username": "vic", "password": pw, "csrf_token": token}
            )

        assert [attempt("wrong guess!").status_code for _ in range(3)] == [401, 401, 401]
        r = attempt(PASSWORDS["vic"])  # even the right password waits now
        assert r.status_code == 429
        assert 0 < int(r.headers["retry-after"]) <= 60
        from fimiscope.review import audit_log

        actions = [a["action"] for a in audit_log(srv.app.state.core.store(), limit=100)]
        assert actions.count("login-failed") == 3 and "login-throttled" in actions
    finally:
        for c in http.opened:
            c.close()
        srv.stop()


def test_security_headers_on_every_kind_of_response(http: Http, server: Server) -> None:
    ana = http.login(server.url, "ana")
    anon = http.client(server.url)
    for r in (anon.get("/login"), anon.get("/groups"), ana.get("/"), ana.get("/posts/x/nope")):
        csp = r.headers["content-security-policy"]
        script = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
        assert "'self'" in script and "unsafe-inline" not in script and "unsafe-eval" not in csp
        assert "frame-ancestors 'none'" in csp
        assert r.headers["x-content-type-options"] == "nosniff"
        assert r.headers["x-frame-options"] == "DENY"
    assert ana.get("/posts/x/nope").status_code == 404
    page = ana.get("/")
    assert page.headers["cache-control"] == "no-store"
    assert "<script>" not in page.text  # no inline script anywhere
    assert "//cdn" not in page.text and "https://" not in page.text


def test_csrf_is_required_on_every_state_changing_action(
    http: Http, server: Server, scenario: Scenario
) -> None:
    ana = http.login(server.url, "ana")
    token = page_csrf(ana)
    other_token = page_csrf(http.login(server.url, "ada"))
    review = {
        "subject_kind": "group",
        "subject_id": str(scenario.group_ids[0]),
        "run_id": scenario.detect_run,
        "decision": "annotate",
        "reason": "csrf test",
    }
    for path, data in (
        ("/review", review),
        ("/exports/report", {"run_id": scenario.detect_run}),
        ("/logout", {}),
    ):
        assert ana.post(path, data=data).status_code == 403, path  # missing
        assert ana.post(path, data={**data, "csrf_token": "forged"}).status_code == 403, path
        assert ana.post(path, data={**data, "csrf_token": other_token}).status_code == 403, path
    # A cross-site form post is refused even with a token (defence in depth).
    r = ana.post(
        "/review",
        data={**review, "csrf_token": token},
        headers={"origin": "https://evil.example"},
    )
    assert r.status_code == 403
    r = ana.post("/review", data={**review, "csrf_token": token})
    assert r.status_code == 303
    # The header form works for scripts.
    r = ana.post("/review", data=review, headers={"x-csrf-token": token})
    assert r.status_code == 303


def test_roles_are_enforced_for_each_action(
    clients: dict[str, httpx.Client], scenario: Scenario
) -> None:
    gid = str(scenario.group_ids[0])
    review = {
        "subject_kind": "group",
        "subject_id": gid,
        "run_id": scenario.detect_run,
        "reason": "role test",
        "back": f"/groups/{scenario.detect_run}/{gid}",
    }
    vic, ana, ada = clients["vic"], clients["ana"], clients["ada"]
    # Viewers read but cannot review, export or read the audit log.
    for decision in ("confirm", "dismiss", "annotate"):
        r = vic.post("/review", data={**review, "decision": decision, "csrf_token": page_csrf(vic)})
        assert r.status_code == 403
    for kind in ("report", "stix", "notice"):
        r = vic.post(
            f"/exports/{kind}",
            data={"run_id": scenario.detect_run, "platform": "x", "csrf_token": page_csrf(vic)},
        )
        assert r.status_code == 403, kind
    assert vic.get("/audit").status_code == 403
    group_page = vic.get(f"/groups/{scenario.detect_run}/{gid}").text
    assert 'id="review-confirm"' not in group_page and "Viewers cannot review" in group_page
    # Analysts review; they export pseudonymised only; no audit log.
    for decision in ("confirm", "dismiss", "annotate"):
        r = ana.post("/review", data={**review, "decision": decision, "csrf_token": page_csrf(ana)})
        assert r.status_code == 303, decision
    r = ana.post(
        "/exports/report",
        data={"run_id": scenario.detect_run, "raw": "1", "csrf_token": page_csrf(ana)},
    )
    assert r.status_code == 403 and "admin" in r.text
    assert ana.get("/audit").status_code == 403
    # Admins read the audit log, which holds the reviews above with their author.
    r = ada.get("/audit")
    assert r.status_code == 200
    assert "ana" in r.text and "review" in r.text and "login" in r.text


def test_review_changes_status_and_history(
    clients: dict[str, httpx.Client], scenario: Scenario
) -> None:
    ana = clients["ana"]
    gid = scenario.group_ids[-1]
    path = f"/groups/{scenario.detect_run}/{gid}"
    for decision, reason in (
        ("confirm", "same minute reposts <b>x</b>"),
        ("dismiss", "a fan club"),
    ):
        r = ana.post(
            "/review",
            data={
                "subject_kind": "group",
                "subject_id": str(gid),
                "run_id": scenario.detect_run,
                "decision": decision,
                "reason": reason,
                "back": path,
                "csrf_token": page_csrf(ana),
            },
        )
        assert r.status_code == 303 and r.headers["location"] == path
    html = ana.get(path).text
    assert re.search(r'id="review-status">dismissed<', html)
    assert "same minute reposts &lt;b&gt;x&lt;/b&gt;" in html  # the reason is escaped too
    # Only local paths are accepted as the page to return to.
    r = ana.post(
        "/review",
        data={
            "subject_kind": "post",
            "subject_id": JAPANESE_POST,
            "platform": "x",
            "decision": "annotate",
            "reason": "note",
            "back": "//evil.example/",
            "csrf_token": page_csrf(ana),
        },
    )
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_pages_render_for_a_viewer(clients: dict[str, httpx.Client], scenario: Scenario) -> None:
    vic = clients["vic"]
    for path in ("/", "/groups", "/state-media", "/boosted", "/runs", "/narratives", "/exports"):
        r = vic.get(path)
        assert r.status_code == 200, path
        assert '<meta charset="utf-8">' in r.text
    overview = vic.get("/").text
    assert "x_v2" in overview or "jsonl" in overview  # ingested sources listed
    assert scenario.detect_run in overview
    group = vic.get(f"/groups/{scenario.detect_run}/{scenario.group_ids[0]}").text
    assert group.count('class="node"') >= 3  # the network picture has its nodes
    assert "<line " in group
    assert "Members" in group and "Shared targets" in group
    assert "UTC" in group  # time-zone indicator


def test_groups_filters_sorting_and_pagination(
    clients: dict[str, httpx.Client], scenario: Scenario
) -> None:
    vic = clients["vic"]
    sizes = [
        int(s)
        for s in re.findall(
            r'class="grouplink"[^<]*</a></td><td>[^<]*</td><td>(\d+)</td>',
            vic.get(f"/groups?run={scenario.detect_run}&sort=size&desc=1").text,
        )
    ]
    assert len(sizes) == len(scenario.group_ids)
    assert sizes == sorted(sizes, reverse=True)
    first = vic.get(f"/groups?run={scenario.detect_run}&per=1").text
    assert first.count('class="grouplink"') == 1
    assert 'rel="next"' in first
    second = vic.get(f"/groups?run={scenario.detect_run}&per=1&page=2").text
    assert second.count('class="grouplink"') == 1 and 'rel="prev"' in second
    assert re.findall(r"Group \d+", first)[0] != re.findall(r"Group \d+", second)[0]
    big = max(sizes)
    only_big = vic.get(f"/groups?run={scenario.detect_run}&min_size={big}").text
    assert only_big.count('class="grouplink"') == sizes.count(big)
    assert vic.get("/groups?per=abc").status_code == 400


def test_hostile_post_is_escaped_everywhere(clients: dict[str, httpx.Client]) -> None:
    vic = clients["vic"]
    html = vic.get(f"/posts/x/{HOSTILE_POST}").text
    assert "&lt;script&gt;window.__pwned=1" in html
    assert "<script>window" not in html and "<img src=x" not in html and "<svg onload" not in html
    found = vic.get("/search", params={"q": "__pwned"}).text
    assert "&lt;img src=x onerror=" in found and "<img src=x" not in found
    account = vic.get("/accounts/x/880001").text
    assert "evil&lt;b&gt;handle" in account and "evil<b>handle" not in account


def test_search_japanese_with_pagination(clients: dict[str, httpx.Client]) -> None:
    vic = clients["vic"]
    r = vic.get("/search", params={"q": "ラーメン屋"})
    assert r.status_code == 200
    assert JAPANESE in r.text and 'lang="ja"' in r.text
    # Full-width input is folded like the stored normalised text.
    assert JAPANESE in vic.get("/search", params={"q": "ＰＭ選挙の投票所"[2:]}).text
    # Wildcards in the query are literal.
    assert "No post contains" in vic.get("/search", params={"q": "%_%_%_%zz"}).text
    many = vic.get("/search", params={"q": "の", "per": 5}).text
    assert many.count("open</a>") == 5 and 'rel="next"' in many


def test_post_and_account_pages(clients: dict[str, httpx.Client], scenario: Scenario) -> None:
    vic = clients["vic"]
    group = vic.get(f"/groups/{scenario.detect_run}/{scenario.group_ids[0]}").text
    posts = re.findall(r'href="(/posts/x/\d+)"', group)
    assert posts
    engaged = [p for p in posts if "<rect" in vic.get(p).text]
    assert engaged, "shared targets of a group have engagement timelines"
    acc = re.findall(r'href="(/accounts/x/\d+)"', group)[0]
    page = vic.get(acc).text
    assert "Automation score" in page and "Group " in page
    assert vic.get("/accounts/x/does-not-exist").status_code == 404


def test_figure_is_served_as_an_image_with_no_script(
    clients: dict[str, httpx.Client], scenario: Scenario
) -> None:
    group = clients["vic"].get(f"/groups/{scenario.detect_run}/{scenario.group_ids[0]}").text
    m = re.search(r'<img class="clock" src="([^"]+)"', group)
    assert m
    r = clients["vic"].get(m.group(1))
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
    assert "sandbox" in r.headers["content-security-policy"]


def test_tls_cookie_is_secure_and_host_prefixed(
    http: Http, scenario: Scenario, tmp_path: Path
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    made = subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
         "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        capture_output=True, check=False,
    )  # fmt: skip
    if made.returncode != 0:
        pytest.skip(f"openssl could not make a test certificate: {made.stderr[:200]!r}")
    srv = start_server(copy_store(scenario, tmp_path / "s.duckdb"), ssl=(cert, key))
    try:
        client = http.client(srv.url, verify=False)
        form = client.get("/login")
        assert "strict-transport-security" in form.headers
        r = client.post(
            "/login",
            data={
                "username": "ada",
                "password": PASSWORDS["ada"],
                "csrf_token": csrf_of(form.text),
            },
        )
        cookie = next(c for c in r.headers.get_list("set-cookie") if c.startswith("__Host-"))
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    finally:
        for c in http.opened:
            c.close()
        srv.stop()


def test_overview_lists_alerts_escaped(
    server: Server, clients: dict[str, httpx.Client], scenario: Scenario
) -> None:
    from datetime import UTC, datetime

    st = server.app.state.core.store()
    try:
        now = datetime.now(UTC)
        st.con.execute(
            "INSERT INTO alerts (alert_id, dedup_key, kind, severity, title, first_at, last_at, "
            "updates, run_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ["new_group-00", "k", "new_group", "high", "<img src=x onerror=alert(1)> 新しい群",
             now, now, 2, "monitor-test"],
        )  # fmt: skip
    finally:
        st.con.close()
    html = clients["vic"].get("/").text
    assert "&lt;img src=x onerror=alert(1)&gt; 新しい群" in html
    assert "<img src=x" not in html


def test_narratives_and_trends_pages(clients: dict[str, httpx.Client]) -> None:
    vic = clients["vic"]
    page = vic.get("/narratives").text
    links = re.findall(r'href="(/narratives/narratives-[^"/]+/\d+)"', page)
    assert links, "the scenario fixture ran a narratives stage"
    detail = vic.get(links[0])
    assert detail.status_code == 200
    assert "Representative posts" in detail.text and "<rect" in detail.text
    assert "No trends run yet" in page  # the scenario has no trends run: said, not failed
    assert vic.get("/narratives/nope/0").status_code == 404


def test_exports_download_and_are_audited(
    server: Server, clients: dict[str, httpx.Client], scenario: Scenario
) -> None:
    import orjson

    from fimiscope.review import audit_log

    ana, ada = clients["ana"], clients["ada"]
    run = scenario.detect_run
    r = ana.post(
        "/exports/report", data={"run_id": run, "include": "all", "csrf_token": page_csrf(ana)}
    )
    assert r.status_code == 200, r.text[:300]
    assert r.headers["content-disposition"].startswith("attachment")
    assert "<html" in r.text.lower()
    r = ana.post(
        "/exports/stix",
        data={"run_id": run, "include": "all", "tlp": "green", "csrf_token": page_csrf(ana)},
    )
    assert r.status_code == 200
    assert orjson.loads(r.content)["type"] == "bundle"
    r = ana.post(
        "/exports/notice",
        data={"run_id": run, "include": "all", "platform": "x", "fmt": "csv",
              "csrf_token": page_csrf(ana)},
    )  # fmt: skip
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    r = ada.post(
        "/exports/notice",
        data={"run_id": run, "include": "all", "platform": "x", "fmt": "json", "raw": "1",
              "csrf_token": page_csrf(ada)},
    )  # fmt: skip
    assert r.status_code == 200
    bad = ana.post(
        "/exports/stix", data={"run_id": run, "tlp": "ultra", "csrf_token": page_csrf(ana)}
    )
    assert bad.status_code == 400
    st = server.app.state.core.store()
    try:
        exports = [a for a in audit_log(st, limit=200) if a["action"] == "export"]
    finally:
        st.con.close()
    by = {(a["actor"], a["detail"]["what"], a["detail"]["raw_identifiers"]) for a in exports}
    assert {("ana", "report-html", False), ("ana", "stix", False), ("ana", "notice-csv", False),
            ("ada", "notice-json", True)} <= by  # fmt: skip
    # The temporary files are gone once downloaded.
    assert not any(Path(p).exists() for a in exports for p in a["detail"]["where"])
