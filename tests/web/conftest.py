"""Fixtures of the dashboard tests: one scenario store per session, real uvicorn servers on
127.0.0.1, and logged-in HTTP clients per role."""

from __future__ import annotations

import re
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.conftest import page, tweet, user

from fimiscope.store import Store

PASSWORDS = {"ada": "admin pass phrase 1", "ana": "analyst pass phrase 2", "vic": "viewer phrase 3"}
ROLES = {"ada": "admin", "ana": "analyst", "vic": "viewer"}
# Would set a global and change the title if any of it ran as markup or script.
HOSTILE = (
    "<script>window.__pwned=1;document.title='pwned'</script>"
    "<img src=x onerror=\"window.__pwned=2;document.title='pwned'\">"
    "<svg onload=\"window.__pwned=3\"></svg> =cmd|' /C calc'!A0"
)
HOSTILE_POST = "990000000000000001"
JAPANESE_POST = "990000000000000002"
JAPANESE = "選挙の投票所は午後八時まで開いています。ラーメン屋の行列も長い。"


@dataclass
class Scenario:
    store: Path
    detect_run: str
    group_ids: list[int]


@pytest.fixture(scope="session")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """A small election scenario (~20k actions) ingested, detected and characterised, plus a
    hostile post and a Japanese post of our own."""
    from fimiscope.characterize import characterize
    from fimiscope.coordination import detect
    from fimiscope.ingest import ingest
    from fimiscope.simulate import generate_scenario
    from fimiscope.web.users import add_user

    root = tmp_path_factory.mktemp("web-scenario")
    files = generate_scenario(root / "scenario", actions=20_000, seed=11)
    extra = root / "extra.jsonl"
    extra.write_bytes(
        page(
            [
                tweet(int(HOSTILE_POST), 880001, HOSTILE, lang="en"),
                tweet(int(JAPANESE_POST), 880002, JAPANESE, at="2025-07-10T05:00:00.000Z"),
            ],
            [user(880001, "evil<b>handle"), user(880002, "tanaka_jp")],
        )
    )
    db = root / "store.duckdb"
    with Store(db) as st:
        ingest(st, [files.x_v2, files.x_liking_users, files.jetstream, extra])
        result = detect(st, seed=11)
        characterize(st, coordination_run=result.run_id, seed=11)
        _narratives(st)
        for name, pw in PASSWORDS.items():
            add_user(st, name, pw, role=ROLES[name])
        gids = [g.group_id for g in result.groups]
    assert gids, "the scenario should contain coordinated groups"
    return Scenario(db, result.run_id, gids)


def _narratives(st: Store) -> None:
    """Narratives of the scenario's posts (a time-windowed run would be faster, but raises a
    RuntimeWarning from scikit-learn's TruncatedSVD on small windows; reported)."""
    from fimiscope.narratives import run_narratives

    run_narratives(st, cross_lingual=False, seed=11)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    url: str
    app: Any
    store: Path
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_server(store: Path, *, ssl: tuple[Path, Path] | None = None, **kw: Any) -> Server:
    import uvicorn

    from fimiscope.web.app import create_app

    app = create_app(store, tls=ssl is not None, **kw)
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="error",
        ws="none",
        lifespan="on",
        timeout_graceful_shutdown=1,
        ssl_certfile=str(ssl[0]) if ssl else None,
        ssl_keyfile=str(ssl[1]) if ssl else None,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    scheme = "https" if ssl else "http"
    return Server(f"{scheme}://127.0.0.1:{port}", app, store, server, thread)


def copy_store(scenario: Scenario, dest: Path) -> Path:
    shutil.copy(scenario.store, dest)
    return dest


@pytest.fixture(scope="session")
def server(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One dashboard for the session (on its own copy of the scenario store)."""
    db = copy_store(scenario, tmp_path_factory.mktemp("web-server") / "store.duckdb")
    srv = start_server(db)
    yield srv
    srv.stop()


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "the page should carry a CSRF token"
    return m.group(1)


def login(base_url: str, username: str, password: str | None = None, **kw: Any) -> httpx.Client:
    client = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30, **kw)
    form = client.get("/login")
    r = client.post(
        "/login",
        data={
            "username": username,
            "password": password if password is not None else PASSWORDS[username],
            "csrf_token": csrf_of(form.text),
            "next": "/",
        },
    )
    assert r.status_code == 303, r.text[:500]
    return client


class Http:
    """Makes HTTP clients and closes them all when the test ends."""

    def __init__(self) -> None:
        self.opened: list[httpx.Client] = []

    def client(self, base_url: str, **kw: Any) -> httpx.Client:
        c = httpx.Client(base_url=base_url, follow_redirects=False, timeout=30, **kw)
        self.opened.append(c)
        return c

    def login(self, base_url: str, username: str, **kw: Any) -> httpx.Client:
        c = login(base_url, username, **kw)
        self.opened.append(c)
        return c


@pytest.fixture
def http() -> Iterator[Http]:
    h = Http()
    yield h
    for c in h.opened:
        c.close()


@pytest.fixture
def clients(server: Server, http: Http) -> dict[str, httpx.Client]:
    return {name: http.login(server.url, name) for name in PASSWORDS}


def page_csrf(client: httpx.Client, path: str = "/") -> str:
    r = client.get(path)
    assert r.status_code == 200, r.text[:300]
    return csrf_of(r.text)
