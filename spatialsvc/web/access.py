"""Access control for every route: one ASGI middleware, deny by default (issue 6).

Per request: the credentials (``Authorization: Bearer`` an API key or a token, or
``X-API-Key``) give a :class:`~spatialsvc.auth.principal.Principal`, the path gives a
:class:`Target` (which resource, and whether data or only metadata is asked for), and
:func:`spatialsvc.auth.policy.decide` or :func:`~spatialsvc.auth.policy.metadata_visible`
gives the answer. A path that is not classified is refused unless it is in :data:`FREE_PATHS`.

Responses are changed only where they must be, and only those are buffered: the collection
list, the OpenAPI document and catalogue records lose what the caller may not see; GeoJSON
features of a resource with masked fields go through :meth:`Decision.apply`. A body that
cannot be filtered (HTML, CSV, JSON-LD) is refused with 406 when filtering was needed.
Vector tiles of a caller who sees fields masked or left out are rendered for that view
(:func:`tile_view`: masked in SQL, cached apart), so a cached tile is only ever served to
callers of the view it was made for. Every classified request is audited through
:class:`AuditBuffer`.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import math
import queue
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

import psycopg2
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import Headers, QueryParams
from starlette.middleware import Middleware

from spatialsvc.audit import Event
from spatialsvc.auth import keys, tokens
from spatialsvc.auth.grants import Grant, grants_for
from spatialsvc.auth.policy import (
    Decision,
    Resource,
    decide,
    metadata_visible,
    resources_from_layers,
)
from spatialsvc.auth.principal import PUBLIC, Principal
from spatialsvc.errors import DatabaseUnavailable, SpatialsvcError, Unauthorized
from spatialsvc.layers import Sharing
from spatialsvc.pygeoapi_config import CATALOGUE_ID, TERRAIN_ID
from spatialsvc.tiles.mvt import TileView
from spatialsvc.web.audit_buffer import AuditBuffer
from spatialsvc.web.errors import RETRY_AFTER_SECONDS, exception_body

if TYPE_CHECKING:
    from spatialsvc.settings import Settings
    from spatialsvc.web.app import AppState

LOG = logging.getLogger("spatialsvc.web.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

Kind = Literal["free", "list", "metadata", "data", "tile", "records", "account", "session"]

GEOCODE_RESOURCE = "standard_address"
"""/geocode, /reverse, the geocoding processes and jobs answer with standard addresses."""
ANALYSIS_RESOURCE = "analysis"
"""The spatial-analysis processes: statistics with small counts suppressed, for departments."""
PROCESS_RESOURCES: dict[str, str] = {
    "geocode": GEOCODE_RESOURCE,
    "reverse-geocode": GEOCODE_RESOURCE,
    "geocode-batch": GEOCODE_RESOURCE,
    "zonal-stats": ANALYSIS_RESOURCE,
    "buffer-count": ANALYSIS_RESOURCE,
    "density": ANALYSIS_RESOURCE,
    "nearby-entities": "legal_entity",
}
"""Whose rules a process's execution follows; an unknown process follows the geocoder's."""

FREE_PATHS: tuple[str, ...] = (
    "/",
    "/conformance",
    "/openapi",
    "/processes",
    "/TileMatrixSets",
    "/map",
)
"""Resource-free paths (exact), allowed to everyone."""
FREE_PREFIXES: tuple[str, ...] = ("/static/", "/basemaps/", "/TileMatrixSets/", "/map/")
"""Resource-free path prefixes (static files, basemaps, tile matrix sets, the portal's page and
its files: the portal reads data through the API with the caller's key, like any app)."""
SESSION_PATH = "/map/api/session"
"""The portal's "who am I": signed in, rate-limited and audited like the API, public admitted."""

VARY = (b"vary", b"Authorization, X-API-Key")
"""Every answer depends on the credentials: shared caches must key on them."""
HTML_OK = frozenset({"metadata.landing", "metadata.openapi"})
"""Lists whose HTML page names no resource (the landing page; Swagger UI loads the JSON)."""
SECRET_PARAMS = frozenset({"token", "access_token", "api_key", "apikey", "key"})
MASKABLE_TYPES = ("application/geo+json", "application/json")
_METADATA_TAILS = re.compile(
    r"^(queryables|schema|tiles|tiles/[^/]+|tiles/[^/]+/metadata|legend|styles/[^/]+)$"
)
_TILE_TAIL = re.compile(r"^tiles/[^/]+/[^/]+/[^/]+/[^/]+$")


@dataclass(frozen=True)
class Target:
    """What a request asks for: ``kind`` and, except for free paths and lists, a resource."""

    kind: Kind
    resource: str | None = None
    action: str = "data.read"
    item: bool = False


def classify(path: str) -> Target | None:
    """The target of a path, or None when the path is unknown (refused)."""
    path = path.rstrip("/") or "/"
    if path == SESSION_PATH:
        return Target("session", action="account.session")
    if path in FREE_PATHS or path.startswith(FREE_PREFIXES):
        if path == "/":
            return Target("list", action="metadata.landing")
        if path == "/openapi":
            return Target("list", action="metadata.openapi")
        return Target("free", action="free")
    if path in ("/geocode", "/reverse"):
        return Target("data", GEOCODE_RESOURCE, action=f"geocode.{path[1:]}")
    parts = path.split("/")[1:]
    if parts[0] == "applications" and len(parts) <= 3:
        return Target("account", action="application.request")
    if parts[0] == "processes" and len(parts) == 2:
        return Target("free", action="free")  # a process's description
    if parts[0] == "processes" and len(parts) == 3 and parts[2] == "execution":
        resource = PROCESS_RESOURCES.get(parts[1], GEOCODE_RESOURCE)
        return Target("data", resource, action="process.execute")
    if parts[0] == "jobs" and len(parts) <= 3:
        return Target("data", GEOCODE_RESOURCE, action="process.job")
    if parts[0] != "collections":
        return None
    if len(parts) == 1:
        return Target("list", action="metadata.list")
    cid, tail = parts[1], "/".join(parts[2:])
    if tail == "" or _METADATA_TAILS.match(tail):
        return Target("metadata", cid, action="metadata.read")
    if tail == "items" or (tail.startswith("items/") and tail.count("/") == 1):
        kind: Kind = "records" if cid == CATALOGUE_ID else "data"
        return Target(kind, cid, action="data.read", item=tail != "items")
    if _TILE_TAIL.match(tail):
        return Target("tile", cid, action="tile.read")
    if tail == "coverage":
        return Target("data", cid, action="coverage.read")
    return None


def wants_html(scope: Scope) -> bool:
    """Whether a request asks for HTML (``f=html``, or a browser's Accept without ``f``)."""
    params = QueryParams(scope.get("query_string", b""))
    fmt = params.get("f")
    if fmt is not None:
        return fmt.lower() == "html"
    return "text/html" in Headers(scope=scope).get("accept", "")


def json_query(scope: Mapping[str, Any]) -> bytes:
    """The request's query string asking for JSON instead."""
    params = [(k, v) for k, v in QueryParams(scope.get("query_string", b"")).multi_items()]
    params = [(k, v) for k, v in params if k != "f"] + [("f", "json")]
    return urlencode(params).encode("latin-1")


def principal_of(scope: Mapping[str, Any]) -> Principal | None:
    """The caller the access middleware admitted (None when access control is off)."""
    state = scope.get("state") or {}
    principal = state.get("principal")
    return principal if isinstance(principal, Principal) else None


def _basic_key(value: str) -> str:
    """The API key in HTTP Basic credentials (the password), or "" (refused)."""
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return ""
    _user, _, password = decoded.partition(":")
    return password if password.startswith(f"{keys.PREFIX}_") else ""


def credential(headers: Headers) -> str | None:
    """The presented API key or token, if any."""
    auth = headers.get("authorization")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
        if scheme.lower() == "basic":  # desktop GIS: any user name, the API key as password
            return _basic_key(value.strip())
        return ""  # present but not a credential we take: refused
    key = headers.get("x-api-key")
    return key.strip() if key is not None else None


def tile_view(decision: Decision) -> TileView:
    """What a caller's vector tiles carry: the fields it sees, masked as in its GeoJSON."""
    fields = tuple(decision.fields_visible)
    return TileView(fields=fields, masked=decision.masked_fields & frozenset(fields))


def restricted_fields(resource: Resource, decision: Decision) -> frozenset[str]:
    """Fields the caller may not see in clear (masked or left out)."""
    clear = frozenset(decision.fields_visible) - decision.masked_fields
    return frozenset(resource.fields) - clear


class _Pool:
    """A few idle connections for authentication and grants (autocommit, read-only use)."""

    def __init__(self, connect: Callable[[], Any], size: int = 8) -> None:
        self._connect = connect
        self._idle: queue.LifoQueue[Any] = queue.LifoQueue(size)

    def run(self, work: Callable[[Any], Any]) -> Any:
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self._connect()
            conn.autocommit = True
        try:
            result = work(conn)
        except Exception as exc:
            conn.close()
            if isinstance(exc, psycopg2.OperationalError | psycopg2.InterfaceError):
                self.close()  # the server went away: the idle ones are dead too
            raise
        try:
            self._idle.put_nowait(conn)
        except queue.Full:
            conn.close()
        return result

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return


class RateLimiter:
    """A token bucket per caller, kept in PostgreSQL (``auth.rate_bucket``) and so shared by
    every worker on every machine; ``per_minute`` 0 turns it off.

    The bucket holds ``per_minute`` tokens and refills at ``per_minute`` a minute. Taking a
    token is one call of ``auth.take_token`` (one round trip, atomic in the database) through
    the access middleware's connections; off, it costs nothing. Every ``sweep_seconds`` one
    call also deletes the buckets that are full again (``auth.forget_full_buckets``).
    """

    def __init__(self, per_minute: int, pool: _Pool, sweep_seconds: float = 300.0) -> None:
        self.capacity = float(per_minute)
        self.rate = per_minute / 60.0
        self._pool = pool
        self._sweep_seconds = sweep_seconds
        self._lock = threading.Lock()
        self._next_sweep = time.monotonic() + sweep_seconds

    @property
    def on(self) -> bool:
        """Whether requests are limited (no database call is made when not)."""
        return self.capacity > 0

    def take(self, who: str) -> float:
        """0 if the request may go ahead, else the seconds to wait before the next one.

        Blocking (run it off the event loop). Raises :class:`DatabaseUnavailable` or a
        ``psycopg2.Error`` when the database cannot be reached.
        """
        if not self.on:
            return 0.0
        capacity, rate = self.capacity, self.rate
        sweep = self._sweep_due()

        def work(conn: Any) -> float:
            with conn.cursor() as cur:
                cur.execute("SELECT auth.take_token(%s, %s, %s)", (who, capacity, rate))
                wait = float(cur.fetchone()[0])
                if sweep:
                    self._forget_full(cur)
            return wait

        result: float = self._pool.run(work)
        return result

    def forget_full(self) -> int:
        """Delete the buckets that are full again (they say nothing a missing row would not)."""
        if not self.on:
            return 0

        def work(conn: Any) -> int:
            with conn.cursor() as cur:
                return self._forget_full(cur)

        result: int = self._pool.run(work)
        return result

    def _forget_full(self, cur: Any) -> int:
        cur.execute("SELECT auth.forget_full_buckets(%s, %s)", (self.capacity, self.rate))
        return int(cur.fetchone()[0])

    def _sweep_due(self) -> bool:
        """True once every ``sweep_seconds`` (for one caller: the others go on)."""
        now = time.monotonic()
        with self._lock:
            if now < self._next_sweep:
                return False
            self._next_sweep = now + self._sweep_seconds
            return True


def resources_for(state: AppState) -> dict[str, Resource]:
    """Every collection the service publishes, as the policy sees it."""
    resources = resources_from_layers(state.layers)
    # The catalogue is filtered record by record; the demo terrain is open (generated data).
    resources[CATALOGUE_ID] = Resource(id=CATALOGUE_ID, department="", sharing="open")
    resources[TERRAIN_ID] = Resource(id=TERRAIN_ID, department="", sharing="open")
    # Statistics over the registers for any signed-in department (small counts suppressed;
    # arbitrary polygons would let the public difference them).
    resources[ANALYSIS_RESOURCE] = Resource(
        id=ANALYSIS_RESOURCE, department="", sharing="unconditional"
    )
    return resources


# -- response bodies ------------------------------------------------------------------------


def filter_collections(document: dict[str, Any], hidden: frozenset[str]) -> dict[str, Any]:
    """The collection list (or landing page) without hidden collections."""
    if isinstance(document.get("collections"), list):
        document["collections"] = [
            c
            for c in document["collections"]
            if not (isinstance(c, dict) and c.get("id") in hidden)
        ]
    if isinstance(document.get("links"), list):
        document["links"] = [
            link
            for link in document["links"]
            if not any(f"/collections/{h}" in str(link.get("href", "")) for h in hidden)
        ]
    return document


def _names_hidden(path: str, hidden: frozenset[str]) -> bool:
    return any(path == f"/collections/{h}" or path.startswith(f"/collections/{h}/") for h in hidden)


def filter_openapi(document: dict[str, Any], hidden: frozenset[str]) -> dict[str, Any]:
    """The OpenAPI document without the paths and tags of hidden collections."""
    paths = document.get("paths")
    if isinstance(paths, dict):
        document["paths"] = {
            p: v
            for p, v in paths.items()
            if not any(
                p == f"/collections/{h}" or p.startswith(f"/collections/{h}/") for h in hidden
            )
        }
    if isinstance(document.get("tags"), list):
        document["tags"] = [
            t for t in document["tags"] if not (isinstance(t, dict) and t.get("name") in hidden)
        ]
    return document


def record_visible(principal: Principal, record: Mapping[str, Any]) -> bool:
    """May the caller see this catalogue record?"""
    props = record.get("properties") or {}
    sharing: Sharing = "none"
    for level in ("open", "unconditional", "conditional"):
        if props.get("sharing") == level:
            sharing = level
    resource = Resource(
        id=str(record.get("id")),
        department=str(props.get("department_code") or ""),
        sharing=sharing,
    )
    return metadata_visible(principal, resource)


def mask_features(document: dict[str, Any], decision: Decision) -> int:
    """Apply the decision to every feature's properties, in place; return the feature count."""
    features = document.get("features")
    if isinstance(features, list):
        for feature in features:
            if isinstance(feature, dict):
                feature["properties"] = decision.apply(feature.get("properties") or {})
        return len(features)
    if document.get("type") == "Feature":
        document["properties"] = decision.apply(document.get("properties") or {})
        return 1
    return 0


# -- the middleware -------------------------------------------------------------------------


@dataclass
class _Caller:
    principal: Principal
    grants: tuple[Grant, ...]


@dataclass
class _Outcome:
    status: int = 0
    returned: int | None = None


_SIGNED_IN_MAX = 10_000  # callers remembered at once (the memory is dropped when full)


class AccessMiddleware:
    """Authentication, the access decision, filtering, rate limits and audit for every route."""

    def __init__(
        self,
        app: ASGIApp,
        state: AppState,
        buffer: AuditBuffer | None = None,
        pool: _Pool | None = None,
        limiter: RateLimiter | None = None,
    ) -> None:
        from spatialsvc.db.connect import connect

        settings = state.settings
        self.app = app
        self.state = state
        self.settings: Settings = settings
        self.resources: dict[str, Resource] = state.extras.setdefault(
            "access_resources", resources_for(state)
        )
        self.pool = pool or _Pool(lambda: connect(settings, "spatialsvc-access"))
        self.audit = buffer
        self.limiter = limiter or RateLimiter(settings.rate_limit_per_minute, self.pool)
        # sha256 of a presented key or token → (monotonic expiry, caller): signing in costs a
        # thread-pool hop and three database round trips, about 1 ms a request
        self._signed_in: dict[str, tuple[float, _Caller]] = {}

    # The entry point.

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one ASGI call (lifespan and websockets pass through)."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        target = classify(scope["path"])
        if target is not None and target.kind == "free":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        outcome = _Outcome()
        caller: _Caller | None = None
        try:
            caller = await self._caller(headers)
        except Unauthorized as exc:
            # guessing keys is limited per address
            if not await self._limited(send, outcome, "fail:" + self._bucket(PUBLIC, scope)):
                await self._error(send, outcome, 401, exc.message, "Unauthorized")
        except DatabaseUnavailable:  # cannot connect: like a dropped connection below
            LOG.warning("authentication failed: the database is not reachable")
            await self._unavailable(send, outcome)
        except SpatialsvcError as exc:
            LOG.error("authentication failed: %s", exc.message)
            await self._error(send, outcome, exc.status_code, "internal error", "ServerError")
        except psycopg2.Error:
            LOG.exception("authentication failed in the database")
            await self._unavailable(send, outcome)
        try:
            if caller is not None:
                await self._admit(scope, receive, send, target, caller, outcome)
        finally:
            await self._record(scope, target, caller, outcome, started)

    async def _admit(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        target: Target | None,
        caller: _Caller,
        outcome: _Outcome,
    ) -> None:
        # the routes behind (applications, jobs) read the caller from the request's state
        scope.setdefault("state", {})["principal"] = caller.principal
        scope["state"]["grants"] = caller.grants
        if await self._limited(send, outcome, self._bucket(caller.principal, scope)):
            return
        if target is None:
            await self._error(send, outcome, 404, f"no such path: {scope['path']}", "NotFound")
        else:
            await self._serve(scope, receive, send, target, caller, outcome)

    async def _limited(self, send: Send, outcome: _Outcome, who: str) -> bool:
        """Take a token from ``who``'s bucket; when there is none (429) or the database cannot
        be reached (503, as for signing in), answer and return True. Off: no database call."""
        if not self.limiter.on:
            return False
        try:
            wait = await run_in_threadpool(self.limiter.take, who)
        except DatabaseUnavailable:
            LOG.warning("rate limit: the database is not reachable")
        except (psycopg2.OperationalError, psycopg2.InterfaceError):
            LOG.warning("rate limit: the connection to the database was lost")
        except psycopg2.Error as exc:  # e.g. auth.take_token missing (migration 0014)
            LOG.error("rate limit: taking a token failed in the database (%s)", exc.pgcode)
        else:
            if wait > 0:
                await self._too_many(send, outcome, wait)
                return True
            return False
        await self._unavailable(send, outcome)
        return True

    async def _unavailable(self, send: Send, outcome: _Outcome) -> None:
        """503 with Retry-After: the database cannot be reached (no database text shown)."""
        await self._error(
            send,
            outcome,
            503,
            "the service is temporarily unavailable",
            "ServiceUnavailable",
            {"Retry-After": str(RETRY_AFTER_SECONDS)},
        )

    async def _caller(self, headers: Headers) -> _Caller:
        presented = credential(headers)
        if presented is None:
            return _Caller(PUBLIC, ())
        if presented == "":
            raise Unauthorized("send the API key or token as `Authorization: Bearer …`")
        ttl = self.settings.auth_cache_seconds
        digest = hashlib.sha256(presented.encode("utf-8", "surrogatepass")).hexdigest()
        cached = self._signed_in.get(digest)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        caller = await run_in_threadpool(self._authenticate, presented)  # raises when refused
        if ttl > 0:
            if len(self._signed_in) >= _SIGNED_IN_MAX:
                self._signed_in.clear()
            self._signed_in[digest] = (time.monotonic() + ttl, caller)
        return caller

    def _authenticate(self, presented: str) -> _Caller:
        now = datetime.now(UTC)
        if presented.startswith(f"{keys.PREFIX}_"):

            def work(conn: Any) -> _Caller | None:
                principal = keys.authenticate(conn, presented, now)
                if principal is None:
                    return None
                if principal.key_id:
                    keys.touch(conn, principal.key_id)
                return _Caller(principal, grants_for(conn, principal.department, now))

            result: _Caller | None = self.pool.run(work)
            if result is None:
                raise Unauthorized("the API key is wrong, expired or revoked")
            return result
        principal = tokens.verify(self.settings, presented)
        grants: tuple[Grant, ...] = self.pool.run(
            lambda conn: grants_for(conn, principal.department, now)
        )
        return _Caller(principal, grants)

    @staticmethod
    def _bucket(principal: Principal, scope: Scope) -> str:
        if principal.is_public:
            client = scope.get("client")
            return f"ip:{client[0] if client else '-'}"
        return principal.who

    # The decision.

    def _hidden(self, principal: Principal) -> frozenset[str]:
        return frozenset(
            rid for rid, r in self.resources.items() if not metadata_visible(principal, r)
        )

    async def _serve(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        target: Target,
        caller: _Caller,
        outcome: _Outcome,
    ) -> None:
        principal = caller.principal
        if target.kind == "session":  # the route reads the caller from the scope
            await self._passthrough(scope, receive, send, outcome)
            return
        if target.kind == "account":
            if principal.is_public:
                why = "sign in with a department's API key or token"
                await self._error(send, outcome, 401, why, "Unauthorized")
            else:
                await self._passthrough(scope, receive, send, outcome)
            return
        if target.kind == "list":
            await self._serve_list(scope, receive, send, target, principal, outcome)
            return
        assert target.resource is not None
        resource = self.resources.get(target.resource)
        if resource is None or not self._exists_for(principal, resource):
            what = target.resource
            await self._error(send, outcome, 404, f"collection {what!r} not found", "NotFound")
            return
        if target.kind == "metadata":
            if metadata_visible(principal, resource):
                await self._passthrough(scope, receive, send, outcome)
            else:
                d = decide(principal, resource, caller.grants)
                await self._refuse(send, outcome, d)
            return
        if target.kind == "records":
            await self._records(scope, receive, send, target, principal, outcome)
            return
        decision = decide(principal, resource, caller.grants)
        if not decision.allowed:
            await self._refuse(send, outcome, decision)
            return
        await self._serve_data(scope, receive, send, target, resource, decision, outcome)

    async def _serve_list(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        target: Target,
        principal: Principal,
        outcome: _Outcome,
    ) -> None:
        hidden = self._hidden(principal)
        change: Callable[[dict[str, Any]], dict[str, Any] | None] = (
            (lambda doc: filter_openapi(doc, hidden))
            if target.action == "metadata.openapi"
            else (lambda doc: filter_collections(doc, hidden))
        )
        render = None
        if hidden and target.action == "metadata.list" and wants_html(scope):
            # the HTML page is rendered here from the filtered JSON, with pygeoapi's template
            scope = {**scope, "query_string": json_query(scope)}
            render = self._collections_page
        await self._filtered(
            scope,
            receive,
            send,
            change,
            bool(hidden),
            outcome,
            html_ok=target.action in HTML_OK,
            render=render,
        )

    def _collections_page(self, document: dict[str, Any]) -> bytes:
        """The collection list's HTML page for a filtered list (pygeoapi's own template)."""
        from pygeoapi.util import render_j2_template

        api = self.state.extras["pygeoapi"].api
        document["collections_path"] = api.get_collections_url()
        html = render_j2_template(
            api.tpl_config,
            api.config["server"]["templates"],
            "collections/index.html",
            document,
            api.default_locale,
        )
        return html.encode("utf-8")

    async def _serve_data(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        target: Target,
        resource: Resource,
        decision: Decision,
        outcome: _Outcome,
    ) -> None:
        """An allowed data request: tiles only whole, masks applied, masked filters refused."""
        restricted = restricted_fields(resource, decision)
        if target.kind == "tile":
            if restricted:  # rendered and cached apart, with the fields masked or left out
                scope.setdefault("state", {})["tile_view"] = tile_view(decision)
            await self._passthrough(scope, receive, send, outcome, count_tile=True)
            return
        if restricted and target.action != "data.read":
            # geocoder and process answers are not masked yet: refused rather than leaked
            why = f"{target.action} is not available on {resource.id} with masked fields"
            await self._error(send, outcome, 403, why, "Forbidden")
            return
        if restricted:
            problem = self._query_problem(scope, restricted)
            if problem:
                await self._error(send, outcome, 403, problem, "Forbidden")
                return

            def mask(doc: dict[str, Any]) -> dict[str, Any]:
                outcome.returned = mask_features(doc, decision)
                return doc

            await self._filtered(scope, receive, send, mask, True, outcome, MASKABLE_TYPES)
            return
        await self._passthrough(scope, receive, send, outcome)

    @staticmethod
    def _exists_for(principal: Principal, resource: Resource) -> bool:
        """A `none` resource does not exist for outsiders (404, not 401/403)."""
        return resource.sharing != "none" or metadata_visible(principal, resource)

    @staticmethod
    def _query_problem(scope: Scope, restricted: frozenset[str]) -> str | None:
        """A query that filters or sorts on a masked field would reveal it: refused."""
        params = QueryParams(scope.get("query_string", b""))
        for key, value in params.multi_items():
            if key in restricted:
                return f"you may not filter on {key}"
            if key == "q":
                return "free-text search is not available on a resource with masked fields"
            if key in ("filter", "sortby", "properties"):
                named = [f for f in restricted if re.search(rf"\b{re.escape(f)}\b", value)]
                if named:
                    return f"you may not use {', '.join(sorted(named))} in {key}"
        return None

    async def _records(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        target: Target,
        principal: Principal,
        outcome: _Outcome,
    ) -> None:
        def change(doc: dict[str, Any]) -> dict[str, Any] | None:
            if target.item:
                return doc if record_visible(principal, doc) else None
            features = doc.get("features")
            if isinstance(features, list):
                doc["features"] = [f for f in features if record_visible(principal, f)]
                doc["numberReturned"] = len(doc["features"])
                doc.pop("numberMatched", None)  # would count hidden records
                outcome.returned = len(doc["features"])
            return doc

        needed = bool(self._hidden(principal))
        await self._filtered(scope, receive, send, change, needed, outcome)

    # Sending.

    async def _passthrough(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        outcome: _Outcome,
        count_tile: bool = False,
    ) -> None:
        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), VARY]
                outcome.status = int(message["status"])
                if count_tile:
                    outcome.returned = 1 if outcome.status == 200 else 0
            await send(message)

        await self.app(scope, receive, watch)

    async def _filtered(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        change: Callable[[dict[str, Any]], dict[str, Any] | None],
        needed: bool,
        outcome: _Outcome,
        types: Iterable[str] = ("json",),
        html_ok: bool = False,
        render: Callable[[dict[str, Any]], bytes] | None = None,
    ) -> None:
        """Run the app, buffer its answer and pass a 200 JSON body through ``change``.

        ``change`` returning None means "not found for this caller". A 200 answer that is not
        JSON of an accepted type is refused (406) when ``needed``, except HTML when ``html_ok``
        (pages that list no resource). ``render`` turns the changed document into an HTML page.
        """
        if not needed:
            await self._passthrough(scope, receive, send, outcome)
            return
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.update(message)
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        status = int(start.get("status", 500))
        headers = Headers(raw=start.get("headers", []))
        body = b"".join(chunks)
        if status != 200:
            outcome.status = status
            await self._send(send, status, start.get("headers", []), body)
            return
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        if html_ok and ctype == "text/html":
            outcome.status = status
            await self._send(send, status, start.get("headers", []), body)
            return
        if not any(t in ctype for t in types):
            await self._error(
                send,
                outcome,
                406,
                "this resource is only available to you as JSON: add f=json",
                "NotAcceptable",
            )
            return
        if not body:  # HEAD: no body to change, and no unfiltered length to tell
            outcome.status = status
            raw = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
            await send({"type": "http.response.start", "status": status, "headers": [*raw, VARY]})
            await send({"type": "http.response.body", "body": b""})
            return
        if headers.get("content-encoding") == "gzip":
            body = gzip.decompress(body)
        try:
            document = json.loads(body)
        except ValueError:
            await self._error(send, outcome, 500, "internal error", "ServerError")
            return
        changed = change(document) if isinstance(document, dict) else document
        if changed is None:
            await self._error(send, outcome, 404, "not found", "NotFound")
            return
        drop: tuple[bytes, ...] = (b"content-length", b"content-encoding", b"etag")
        if render is not None:
            new_body = await run_in_threadpool(render, changed)
            drop += (b"content-type",)
        else:
            new_body = json.dumps(changed, ensure_ascii=False).encode("utf-8")
        raw = [(k, v) for k, v in start.get("headers", []) if k.lower() not in drop]
        if render is not None:
            raw.append((b"content-type", b"text/html; charset=utf-8"))
        outcome.status = status
        await self._send(send, status, raw, new_body)

    @staticmethod
    async def _send(send: Send, status: int, raw: list[tuple[bytes, bytes]], body: bytes) -> None:
        raw = [(k, v) for k, v in raw if k.lower() != b"content-length"]
        raw += [(b"content-length", str(len(body)).encode()), VARY]
        await send({"type": "http.response.start", "status": status, "headers": raw})
        await send({"type": "http.response.body", "body": body})

    async def _too_many(self, send: Send, outcome: _Outcome, wait: float) -> None:
        retry = {"Retry-After": str(max(1, math.ceil(wait)))}
        why = "too many requests for this key: slow down"
        await self._error(send, outcome, 429, why, "TooManyRequests", retry)

    async def _refuse(self, send: Send, outcome: _Outcome, decision: Decision) -> None:
        code = "Unauthorized" if decision.status == 401 else "Forbidden"
        await self._error(send, outcome, decision.status, decision.reason, code)

    async def _error(
        self,
        send: Send,
        outcome: _Outcome,
        status: int,
        description: str,
        code: str,
        extra: Mapping[str, str] | None = None,
    ) -> None:
        outcome.status = status
        body = json.dumps(exception_body(status, description, code), ensure_ascii=False).encode()
        raw = [(b"content-type", b"application/json")]
        if status == 401:
            raw.append((b"www-authenticate", b'Bearer realm="spatialsvc"'))
        raw += [(k.lower().encode(), v.encode()) for k, v in (extra or {}).items()]
        await self._send(send, status, raw, body)

    # The audit.

    async def _record(
        self,
        scope: Scope,
        target: Target | None,
        caller: _Caller | None,
        outcome: _Outcome,
        started: float,
    ) -> None:
        if self.audit is None:
            return
        principal = caller.principal if caller is not None else PUBLIC
        params = {
            k: v
            for k, v in QueryParams(scope.get("query_string", b"")).items()
            if k.lower() not in SECRET_PARAMS
        }
        client = scope.get("client")
        event = Event(
            action=target.action if target is not None else "unknown",
            endpoint=scope["path"],
            method=scope["method"],
            status=outcome.status or 500,
            role=principal.role,
            actor_key_id=principal.key_id,
            department=principal.department,
            resource=target.resource if target is not None else None,
            params=params,
            returned=outcome.returned,
            duration_ms=(time.perf_counter() - started) * 1000.0,
            client=client[0] if client else None,
        )
        if not self.audit.put(event):  # full: wait for room off the event loop
            await run_in_threadpool(self.audit.put_blocking, event)


def middleware(state: AppState) -> list[Middleware]:
    """The access middleware with its audit buffer and connections.

    They are kept in ``state.extras`` (``"audit"``, ``"access_pool"``, ``"rate_limiter"``,
    ``"access_resources"``); ``state.extras["on_shutdown"]`` gets the callback that writes the
    events left and closes the connections.
    """
    from spatialsvc.db.connect import connect

    settings = state.settings
    buffer = AuditBuffer(
        lambda: connect(settings, "spatialsvc-audit"),
        spill_file=settings.home / "audit-spill.jsonl",
    )
    pool = _Pool(lambda: connect(settings, "spatialsvc-access"))
    limiter = RateLimiter(settings.rate_limit_per_minute, pool)

    def shutdown() -> None:
        buffer.stop()
        pool.close()

    state.extras["audit"] = buffer
    state.extras["access_pool"] = pool
    state.extras["rate_limiter"] = limiter
    state.extras["access_resources"] = resources_for(state)
    state.extras.setdefault("on_shutdown", []).append(shutdown)
    return [Middleware(AccessMiddleware, state=state, buffer=buffer, pool=pool, limiter=limiter)]
