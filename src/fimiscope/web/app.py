"""The FastAPI application of the analyst dashboard.

One global gate (:func:`_gate`) runs before every route: it opens a per-request view of the
store, lets only the log-in page, its stylesheet and the health check through without a session,
and refuses any state-changing request whose CSRF token is missing or wrong. Routes then check
roles with :func:`_need`. Templates are Jinja2 with autoescaping on for everything, so post texts
(written by adversaries) render as text.
"""

from __future__ import annotations

import contextlib
import ipaddress
import secrets
import shutil
import tempfile
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from fastapi import Depends, FastAPI, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fimiscope.errors import FimiscopeError, NotFoundError
from fimiscope.store import Store
from fimiscope.web import charts, integrations, queries
from fimiscope.web.queries import Page
from fimiscope.web.security import (
    SECURITY_HEADERS,
    LoginCsrf,
    RateLimiter,
    Session,
    Sessions,
    cookie_args,
    csrf_ok,
)
from fimiscope.web.users import role_at_least, verify_password

PUBLIC_PATHS = frozenset({"/login", "/login/style.css", "/healthz"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
STATIC_FILES = {
    "app.css": "text/css; charset=utf-8",
    "graph.js": "text/javascript; charset=utf-8",
}
_FIGURE_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@dataclass
class Settings:
    """What :func:`create_app` was asked for."""

    store_path: str
    tls: bool = False
    session_hours: float = 12.0
    key_file: Path | None = None
    login_attempts: int = 5
    login_window_s: float = 300.0
    ui_lang: str = "en"
    secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))


class LoginRequired(Exception):
    """No valid session."""


class Forbidden(Exception):
    """The session's role may not do this."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class SecurityHeaders:
    """Adds the security headers to every response (pages, errors, files)."""

    def __init__(self, app: ASGIApp, *, tls: bool) -> None:
        self.app = app
        self.headers = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]
        if tls:
            self.headers.append((b"strict-transport-security", b"max-age=31536000"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (k, v) for k, v in self.headers if k not in have
                ]
                if b"cache-control" not in have:
                    message["headers"].append((b"cache-control", b"no-store"))
            await send(message)

        await self.app(scope, receive, send_with_headers)


class _Core:
    """Shared state of one application: the store, sessions, rate limiter, templates."""

    def __init__(self, settings: Settings) -> None:
        import jinja2

        self.settings = settings
        # Opened read-write once: applies migrations, and every request takes its own cursor
        # (DuckDB connections are not shared across threads; cursors are).
        self.base = Store(settings.store_path)
        self.sessions = Sessions(lifetime=timedelta(hours=settings.session_hours))
        self.limiter = RateLimiter(
            attempts=settings.login_attempts, window_s=settings.login_window_s
        )
        self.login_csrf = LoginCsrf(settings.secret)
        self.cookie = "__Host-fimiscope" if settings.tls else "fimiscope_session"
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("fimiscope.web", "templates"),
            autoescape=True,  # every template, whatever its name
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["ts"] = _ts
        self.env.filters["num"] = _num
        self.env.filters["pct"] = _pct
        self.env.globals["urlq"] = quote
        self._layouts: OrderedDict[tuple[str, int], tuple[dict[str, Any], bool]] = OrderedDict()
        self._lock = threading.Lock()

    def network(self, store: Store, run_id: str, group_id: int) -> tuple[dict[str, Any], bool]:
        """The laid-out network of a group; cached, since a run's results never change."""
        key = (run_id, group_id)
        with self._lock:
            hit = self._layouts.get(key)
            if hit is not None:
                self._layouts.move_to_end(key)
                return hit
        nodes, edges, truncated = queries.group_graph(store.con, run_id, group_id)
        value = (charts.network(nodes, edges), truncated)
        with self._lock:
            self._layouts[key] = value
            while len(self._layouts) > 256:
                self._layouts.popitem(last=False)
        return value

    def store(self) -> Store:
        """A view of the store on its own cursor, for one request."""
        view = object.__new__(Store)
        view.path = self.base.path
        view.con = self.base.con.cursor()
        return view

    def close(self) -> None:
        self.base.close()


def _ts(value: Any) -> str:
    if value is None:
        return "—"
    if hasattr(value, "strftime"):
        return str(value.strftime("%Y-%m-%d %H:%M:%S UTC"))
    return str(value).replace("T", " ")[:19] + " UTC"


def _num(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _pct(value: Any) -> str:
    return "—" if value is None else f"{100 * float(value):.0f} %"


def _client(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def _core(request: Request) -> _Core:
    core: _Core = request.app.state.core
    return core


def get_store(request: Request) -> Iterator[Store]:
    st = _core(request).store()
    try:
        yield st
    finally:
        st.con.close()


async def _gate(request: Request, store: Store = Depends(get_store)) -> None:  # noqa: B008
    """Session and CSRF check before every route (see the module docstring)."""
    core = _core(request)
    path = request.url.path
    if request.method not in SAFE_METHODS:
        origin = request.headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != request.url.netloc:
            raise Forbidden("cross-origin request refused")
    if path in PUBLIC_PATHS:
        return
    token = request.cookies.get(core.cookie)
    session = await run_in_threadpool(core.sessions.get, store, token)
    if session is None:
        raise LoginRequired
    request.state.session = session
    if request.method not in SAFE_METHODS:
        given = request.headers.get("x-csrf-token")
        if not given and "form" in request.headers.get("content-type", ""):
            form = await request.form()
            value = form.get("csrf_token")
            given = value if isinstance(value, str) else None
        if not csrf_ok(session.csrf_token, given):
            raise Forbidden("missing or wrong CSRF token; reload the page and try again")


def _session(request: Request) -> Session:
    session: Session | None = getattr(request.state, "session", None)
    if session is None:
        raise LoginRequired
    return session


def _need(role: str) -> Callable[[Request], Session]:
    def check(request: Request) -> Session:
        session = _session(request)
        if not role_at_least(session.role, role):
            raise Forbidden(f"this needs the {role} role; you are {session.role}")
        return session

    return check


def _page(request: Request, prefix: str = "") -> Page:
    p = request.query_params
    try:
        return Page.of(int(p.get(f"{prefix}page", 1)), int(p.get(f"{prefix}per", 50)))
    except ValueError as exc:
        raise BadRequest("page and per must be whole numbers") from exc


def _link(request: Request, **changes: Any) -> str:
    """This page's URL with some query parameters changed (None removes one)."""
    params = dict(request.query_params)
    for k, v in changes.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = str(v)
    return request.url.path + ("?" + urlencode(params) if params else "")


def _safe_next(value: str | None) -> str:
    """Only local paths: never redirect a user to another site after log-in."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return "/"
    return value


def create_app(
    store_path: str | Path,
    *,
    tls: bool = False,
    session_hours: float = 12.0,
    key_file: Path | None = None,
    login_attempts: int = 5,
    login_window_s: float = 300.0,
    secret: bytes | None = None,
) -> FastAPI:
    """The dashboard over the store at ``store_path``.

    Parameters
    ----------
    store_path
        The DuckDB store; opened read-write (migrated) for the life of the application.
    tls
        Served over HTTPS: cookies get ``Secure`` and the ``__Host-`` prefix, and HSTS is sent.
    session_hours
        Sessions end this long after log-in.
    key_file
        Pseudonymisation key for exports (default: the report module's default key file).
    login_attempts, login_window_s
        Failed log-ins allowed per client address and per user name within the window.
    secret
        Key signing the log-in form's CSRF token (default: random per process).
    """
    settings = Settings(
        store_path=str(store_path),
        tls=tls,
        session_hours=session_hours,
        key_file=key_file,
        login_attempts=login_attempts,
        login_window_s=login_window_s,
        **({"secret": secret} if secret else {}),
    )
    core = _Core(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        core.close()

    app = FastAPI(
        title="fimiscope dashboard",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        dependencies=[Depends(_gate)],
    )
    app.state.core = core
    app.add_middleware(SecurityHeaders, tls=tls)
    _handlers(app, core)
    _routes(app, core)
    return app


def _render(
    request: Request, core: _Core, name: str, status_code: int = 200, **ctx: Any
) -> HTMLResponse:
    session: Session | None = getattr(request.state, "session", None)
    html = core.env.get_template(name).render(
        user=session,
        csrf=session.csrf_token if session else "",
        path=request.url.path,
        link=lambda **kw: _link(request, **kw),
        can_review=bool(session and role_at_least(session.role, "analyst")),
        is_admin=bool(session and role_at_least(session.role, "admin")),
        ui_lang=core.settings.ui_lang,
        **ctx,
    )
    return HTMLResponse(html, status_code=status_code)


def _handlers(app: FastAPI, core: _Core) -> None:
    @app.exception_handler(LoginRequired)
    async def login_required(request: Request, exc: LoginRequired) -> Response:
        wants_html = "text/html" in request.headers.get("accept", "")
        if request.method in SAFE_METHODS and wants_html:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?{urlencode({'next': target})}", status_code=303)
        return JSONResponse({"error": "log in first"}, status_code=401)

    @app.exception_handler(Forbidden)
    async def forbidden(request: Request, exc: Forbidden) -> Response:
        return _render(request, core, "error.html", 403, title="Not allowed", message=exc.message)

    @app.exception_handler(BadRequest)
    async def bad_request(request: Request, exc: BadRequest) -> Response:
        return _render(request, core, "error.html", 400, title="Bad request", message=exc.message)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        return _render(request, core, "error.html", 404, title="Not found", message=str(exc))

    @app.exception_handler(FimiscopeError)
    async def fimiscope_error(request: Request, exc: FimiscopeError) -> Response:
        return _render(request, core, "error.html", 400, title="Cannot do that", message=str(exc))


def _routes(app: FastAPI, core: _Core) -> None:
    S = Depends(get_store)
    viewer = Depends(_need("viewer"))
    analyst = Depends(_need("analyst"))
    admin = Depends(_need("admin"))

    # -- public -------------------------------------------------------------------------------
    @app.get("/healthz")
    def healthz() -> dict[str, bool]:
        return {"ok": True}

    @app.get("/login/style.css")
    def login_css() -> Response:
        return _static_file("app.css")

    @app.get("/login")
    def login_form(request: Request, next: str = "/") -> Response:
        return _login_page(request, core, next_=_safe_next(next))

    @app.post("/login")
    def login(
        request: Request,
        store: Store = S,
        username: str = Form(""),
        password: str = Form(""),
        csrf_token: str = Form(""),
        next: str = Form("/"),
    ) -> Response:
        client = _client(request)
        if not core.login_csrf.check(request.cookies.get("fimiscope_login"), csrf_token):
            return _login_page(
                request,
                core,
                next_=_safe_next(next),
                error="The form expired; try again.",
                status_code=403,
            )
        keys = (f"ip:{client}", f"user:{username[:64]}")
        wait = core.limiter.retry_after(*keys)
        if wait > 0:
            integrations.audit(
                store,
                actor=username.strip()[:64] or "-",
                action="login-throttled",
                detail={"client": client},
            )
            resp = _login_page(
                request,
                core,
                next_=_safe_next(next),
                status_code=429,
                error=f"Too many failed log-ins; try again in {int(wait) + 1} s.",
            )
            resp.headers["Retry-After"] = str(int(wait) + 1)
            return resp
        user = verify_password(store, username[:64], password[:1024])
        if user is None:
            core.limiter.fail(*keys)
            integrations.audit(
                store,
                actor=username.strip()[:64] or "-",
                action="login-failed",
                detail={"client": client},
            )
            return _login_page(
                request,
                core,
                next_=_safe_next(next),
                status_code=401,
                error="Wrong user name or password.",
            )
        core.limiter.reset(f"user:{username}")
        token, _ = core.sessions.create(store, user["username"], client)
        integrations.audit(store, actor=user["username"], action="login", detail={"client": client})
        resp = RedirectResponse(_safe_next(next), status_code=303)
        resp.set_cookie(
            core.cookie,
            token,
            max_age=int(core.settings.session_hours * 3600),
            **cookie_args(tls=core.settings.tls),
        )
        resp.delete_cookie("fimiscope_login", **cookie_args(tls=core.settings.tls))
        return resp

    # -- session ------------------------------------------------------------------------------
    @app.post("/logout")
    def logout(request: Request, store: Store = S, session: Session = viewer) -> Response:
        core.sessions.end(store, session)
        integrations.audit(store, actor=session.username, action="logout", detail={})
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(core.cookie, **cookie_args(tls=core.settings.tls))
        return resp

    @app.get("/static/{name}")
    def static(name: str, _: Session = viewer) -> Response:
        return _static_file(name)

    # -- pages --------------------------------------------------------------------------------
    @app.get("/", response_class=HTMLResponse)
    def overview(request: Request, store: Store = S, _: Session = viewer) -> Response:
        data = queries.overview(store.con)
        for s in data["sources"]:
            s["name"] = Path(s["path"] or "").name
        return _render(request, core, "overview.html", title="Overview", **data)

    @app.get("/groups", response_class=HTMLResponse)
    def groups(
        request: Request,
        store: Store = S,
        _: Session = viewer,
        run: str | None = None,
        platform: str | None = None,
        min_size: int | None = None,
        trace: str | None = None,
        sort: str = "group",
        desc: int = 0,
    ) -> Response:
        run_id = run or queries.latest_run(store.con, "detect")
        page = _page(request)
        rows = (
            queries.groups(
                store.con,
                run_id,
                page,
                platform=platform or None,
                min_size=min_size,
                trace=trace or None,
                sort=sort,
                descending=bool(desc),
            )
            if run_id
            else None
        )
        status = integrations.statuses(store, "group", run_id=run_id) if run_id else {}
        return _render(
            request, core, "groups.html", title="Groups", run_id=run_id, rows=rows,
            status=status, runs=queries.run_ids(store.con, "detect"),
            platforms=queries.group_platforms(store.con, run_id) if run_id else [],
            traces=sorted(charts.TRACE_COLOURS), sorts=list(queries.GROUP_SORTS),
            f={"platform": platform or "", "min_size": min_size or "", "trace": trace or "",
               "sort": sort, "desc": desc},
        )  # fmt: skip

    @app.get("/groups/{run_id}/{group_id}", response_class=HTMLResponse)
    def group(
        request: Request, run_id: str, group_id: int, store: Store = S, _: Session = viewer
    ) -> Response:
        g = queries.group(store.con, run_id, group_id)
        if g is None:
            raise NotFoundError(f"no group {group_id} in run {run_id}")
        char_run = queries.characterize_run_for(store.con, run_id)
        net, truncated = core.network(store, run_id, group_id)
        ev = g["evidence"] or {}
        timeline = charts.bars([(h, int(n)) for h, n in ev.get("timeline", [])])
        members = queries.group_members(store.con, run_id, group_id, char_run, _page(request, "m"))
        sid = str(group_id)
        return _render(
            request, core, "group.html", title=f"Group {group_id}", g=g, run_id=run_id,
            char_run=char_run, net=net, truncated=truncated,
            timeline=timeline, members=members,
            ctx=queries.group_context(store.con, char_run, run_id, group_id),
            narr_run=queries.latest_run(store.con, "narratives"),
            narr=queries.group_narratives(
                store.con, queries.latest_run(store.con, "narratives"), run_id, group_id
            ),
            claims=queries.claim_matches(store.con, group=(run_id, group_id)),
            review=_review_box(store, "group", sid, run_id=run_id, platform=None,
                               back=request.url.path),
        )  # fmt: skip

    @app.get("/figures/{run_id}/{name}")
    def figure(run_id: str, name: str, store: Store = S, _: Session = viewer) -> Response:
        fig = queries.figure(store.con, run_id, name)
        if fig is None:
            raise NotFoundError(f"no figure {name} in run {run_id}")
        mime = fig["mime"] if fig["mime"] in ("image/svg+xml", "image/png") else "text/plain"
        return Response(
            bytes(fig["content"]), media_type=mime, headers={"Content-Security-Policy": _FIGURE_CSP}
        )

    @app.get("/accounts/{platform}/{account_id:path}", response_class=HTMLResponse)
    def account(
        request: Request, platform: str, account_id: str, store: Store = S, _: Session = viewer
    ) -> Response:
        acc = queries.account(store.con, platform, account_id)
        if acc is None:
            raise NotFoundError(f"no account {account_id} on {platform}")
        char_run = queries.latest_run(store.con, "characterize")
        return _render(
            request, core, "account.html", title=f"Account {acc['handle'] or account_id}",
            acc=acc, ctx=queries.account_context(store.con, char_run, platform, account_id),
            posts=queries.account_posts(store.con, platform, account_id, _page(request)),
            review=_review_box(store, "account", account_id, platform=platform, run_id=None,
                               back=request.url.path),
        )  # fmt: skip

    @app.get("/posts/{platform}/{post_id:path}", response_class=HTMLResponse)
    def post(
        request: Request, platform: str, post_id: str, store: Store = S, _: Session = viewer
    ) -> Response:
        p = queries.post(store.con, platform, post_id)
        if p is None:
            raise NotFoundError(f"no post {post_id} on {platform}")
        char_run = queries.latest_run(store.con, "characterize")
        series = queries.post_timeline(store.con, platform, post_id)
        timeline = charts.bars([(b, sum(kinds.values())) for b, kinds in series])
        return _render(
            request, core, "post.html", title=f"Post {post_id}", p=p, timeline=timeline,
            kinds=_kind_totals(series),
            dis=queries.post_dissemination(store.con, char_run, platform, post_id),
            engagers=queries.post_engagers(store.con, platform, post_id, _page(request)),
            claims=queries.claim_matches(store.con, post=(platform, post_id)),
            review=_review_box(store, "post", post_id, platform=platform, run_id=None,
                               back=request.url.path),
        )  # fmt: skip

    @app.get("/narratives", response_class=HTMLResponse)
    def narratives(
        request: Request, store: Store = S, _: Session = viewer, run: str | None = None
    ) -> Response:
        run_id = run or queries.latest_run(store.con, "narratives")
        return _render(
            request, core, "narratives.html", title="Narratives and trends", run_id=run_id,
            runs=queries.run_ids(store.con, "narratives"),
            rows=queries.narratives(store.con, run_id, _page(request)) if run_id else None,
            trends=queries.trends(store.con, _page(request, "t")),
        )  # fmt: skip

    @app.get("/narratives/{run_id}/{narrative_id}", response_class=HTMLResponse)
    def narrative(
        request: Request, run_id: str, narrative_id: int, store: Store = S, _: Session = viewer
    ) -> Response:
        n = queries.narrative(store.con, run_id, narrative_id)
        if n is None:
            raise NotFoundError(f"no narrative {narrative_id} in run {run_id}")
        return _render(
            request, core, "narrative.html", title=f"Narrative {narrative_id}", n=n,
            run_id=run_id, volume=charts.bars(n["volume"]),
            posts=queries.narrative_posts(store.con, run_id, narrative_id, _page(request)),
        )  # fmt: skip

    @app.get("/state-media", response_class=HTMLResponse)
    def state_media(
        request: Request, store: Store = S, _: Session = viewer, outlet: str | None = None
    ) -> Response:
        char_run = queries.latest_run(store.con, "characterize")
        return _render(
            request, core, "state_media.html", title="State-media amplification",
            char_run=char_run, outlet=outlet,
            chain=queries.state_media_chain(store.con, char_run) if char_run else [],
            outlets=queries.state_media_outlets(store.con, char_run, _page(request, "o"))
            if char_run else None,
            amplifiers=queries.state_media_amplifiers(
                store.con, char_run, _page(request), outlet or None
            ) if char_run else None,
        )  # fmt: skip

    @app.get("/boosted", response_class=HTMLResponse)
    def boosted(request: Request, store: Store = S, _: Session = viewer) -> Response:
        char_run = queries.latest_run(store.con, "characterize")
        return _render(
            request,
            core,
            "boosted.html",
            title="Boosted posts",
            char_run=char_run,
            rows=queries.boosted_posts(store.con, char_run, _page(request)) if char_run else None,
        )

    @app.get("/search", response_class=HTMLResponse)
    def search(
        request: Request,
        store: Store = S,
        _: Session = viewer,
        q: str = "",
        platform: str | None = None,
    ) -> Response:
        from fimiscope.ingest.normalise import normalise_text

        needle = (normalise_text(q.strip()[:200]) or "") if q.strip() else ""
        rows = (
            queries.search_posts(store.con, needle, _page(request), platform or None)
            if needle
            else None
        )
        return _render(
            request, core, "search.html", title="Search", q=q, platform=platform or "", rows=rows
        )

    @app.get("/runs", response_class=HTMLResponse)
    def runs(
        request: Request, store: Store = S, _: Session = viewer, stage: str | None = None
    ) -> Response:
        rows = queries.runs(store.con, _page(request), stage or None)
        return _render(request, core, "runs.html", title="Runs", rows=rows, stage=stage or "")

    @app.get("/audit", response_class=HTMLResponse)
    def audit_page(request: Request, store: Store = S, _: Session = admin) -> Response:
        page = _page(request)
        mod = integrations.review()
        rows = None
        if mod is not None:
            got = mod.audit_log(store, limit=page.size + 1, offset=page.offset)
            rows = queries.Rows(got[: page.size], page, len(got) > page.size)
        return _render(request, core, "audit.html", title="Audit log", rows=rows)

    @app.get("/exports", response_class=HTMLResponse)
    def exports_page(request: Request, store: Store = S, _: Session = viewer) -> Response:
        rep = integrations.report()
        return _render(
            request, core, "exports.html", title="Exports",
            runs=queries.run_ids(store.con, "detect"),
            platforms=[r[0] for r in store.con.execute(
                "SELECT DISTINCT platform FROM coord_groups ORDER BY 1 LIMIT 50").fetchall()],
            have={k: bool(rep and hasattr(rep, k)) for k in
                  ("write_report", "write_stix", "write_notice")},
            run_id=request.query_params.get("run") or queries.latest_run(store.con, "detect"),
        )  # fmt: skip

    # -- actions ------------------------------------------------------------------------------
    @app.post("/review")
    def review_action(
        request: Request,
        store: Store = S,
        session: Session = analyst,
        subject_kind: str = Form(...),
        subject_id: str = Form(...),
        decision: str = Form(...),
        reason: str = Form(""),
        run_id: str = Form(""),
        platform: str = Form(""),
        back: str = Form("/"),
    ) -> Response:
        mod = integrations.review()
        if mod is None:
            raise BadRequest("the review trail (fimiscope.review) is not installed")
        mod.record(
            store,
            subject_kind=subject_kind,
            subject_id=subject_id,
            decision=decision,
            reason=reason[:4000],
            analyst=session.username,
            run_id=run_id or None,
            platform=platform or None,
        )
        return RedirectResponse(_safe_next(back), status_code=303)

    @app.post("/exports/{kind}")
    def export(
        request: Request,
        kind: str,
        store: Store = S,
        session: Session = analyst,
        run_id: str = Form(""),
        include: str = Form("confirmed"),
        raw: str = Form(""),
        tlp: str = Form("amber"),
        platform: str = Form(""),
        fmt: str = Form("json"),
    ) -> Response:
        want_raw = raw in ("1", "on", "true")
        if want_raw and not role_at_least(session.role, "admin"):
            raise Forbidden("exporting raw identifiers needs the admin role")
        return _export(
            core, store, session, kind, run_id=run_id or None, include=include,
            pseudonymise=not want_raw, tlp=tlp, platform=platform or None, fmt=fmt,
        )  # fmt: skip


def _static_file(name: str) -> Response:
    media = STATIC_FILES.get(name)
    if media is None:
        raise NotFoundError(f"no static file {name}")
    data = resources.files("fimiscope.web").joinpath("static", name).read_bytes()
    return Response(data, media_type=media, headers={"Cache-Control": "private, max-age=300"})


def _login_page(
    request: Request, core: _Core, *, next_: str, error: str | None = None, status_code: int = 200
) -> Response:
    nonce, token = core.login_csrf.issue()
    resp = _render(
        request,
        core,
        "login.html",
        status_code,
        title="Log in",
        next_=next_,
        error=error,
        login_csrf=token,
    )
    resp.set_cookie(
        "fimiscope_login", nonce, max_age=LoginCsrf.MAX_AGE, **cookie_args(tls=core.settings.tls)
    )
    return resp


def _review_box(
    store: Store, kind: str, subject_id: str, *, run_id: str | None, platform: str | None,
    back: str,
) -> dict[str, Any]:  # fmt: skip
    mod = integrations.review()
    if mod is None:
        return {"installed": False}
    scope = {"run_id": run_id} if run_id else {"platform": platform} if platform else {}
    return {
        "installed": True,
        "kind": kind,
        "subject_id": subject_id,
        "run_id": run_id or "",
        "platform": platform or "",
        "back": back,
        "status": mod.status(store, kind, subject_id, **scope),
        "history": mod.history(store, subject_kind=kind, subject_id=subject_id, limit=20, **scope),
    }


def _kind_totals(series: list[tuple[str, dict[str, int]]]) -> dict[str, int]:
    out: dict[str, int] = {}
    for _, kinds in series:
        for k, n in kinds.items():
            out[k] = out.get(k, 0) + n
    return out


_EXPORTS: dict[str, tuple[str, str, str]] = {
    # kind: (function in fimiscope.report, file suffix, media type)
    "report": ("write_report", ".html", "text/html; charset=utf-8"),
    "stix": ("write_stix", ".json", "application/json"),
    "notice": ("write_notice", "", ""),
}


def _export(
    core: _Core,
    store: Store,
    session: Session,
    kind: str,
    *,
    run_id: str | None,
    include: str,
    pseudonymise: bool,
    tlp: str,
    platform: str | None,
    fmt: str,
) -> Response:
    if kind not in _EXPORTS:
        raise NotFoundError(f"no export {kind!r}")
    fn_name, suffix, media = _EXPORTS[kind]
    rep = integrations.report()
    fn = getattr(rep, fn_name, None) if rep else None
    if fn is None:
        raise BadRequest(f"this installation has no {kind} export (fimiscope.report.{fn_name})")
    if include not in ("confirmed", "all"):
        raise BadRequest("include must be 'confirmed' or 'all'")
    common: dict[str, Any] = {
        "pseudonymise": pseudonymise, "key_path": core.settings.key_file,
        "actor": session.username,
    }  # fmt: skip
    if kind == "notice":
        if fmt not in ("json", "csv"):
            raise BadRequest("fmt must be json or csv")
        if not platform:
            raise BadRequest("a notice is for one platform; choose it")
        suffix = f".{fmt}"
        media = "application/json" if fmt == "json" else "text/csv; charset=utf-8"
        kwargs = {"platform": platform, "fmt": fmt, "run_id": run_id, "include": include, **common}
    elif kind == "stix":
        if tlp not in ("clear", "green", "amber", "red"):
            raise BadRequest("unknown TLP marking")
        kwargs = {"run_id": run_id, "include": include, "tlp": tlp, **common}
    else:
        kwargs = {"run_id": run_id, "include": include, **common}
    tmp = Path(tempfile.mkdtemp(prefix="fimiscope-export-"))
    name = f"fimiscope-{kind}-{run_id or 'latest'}{'-raw' if not pseudonymise else ''}{suffix}"
    name = "".join(c if c.isalnum() or c in "-._" else "_" for c in name)
    try:
        out = Path(fn(store, tmp / name, **kwargs))
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return FileResponse(
        out,
        media_type=media,
        filename=out.name,
        background=BackgroundTask(shutil.rmtree, tmp, ignore_errors=True),
    )


def is_loopback(host: str) -> bool:
    """``True`` for addresses that only this machine can reach."""
    if host in ("localhost", "ip6-localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
