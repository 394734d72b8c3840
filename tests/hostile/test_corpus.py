"""The injection corpus (corpus.yml) against the real service: 4xx, clean bodies, and the
database unchanged.

SQL in every query parameter of a set of operations and in every path id, CQL2 injections
(text and JSON), path traversal, huge bbox / limit / tile numbers, broken UTF-8 (escaped and
as raw bytes), a 10 MB query string and huge JSON bodies, as an administrator and as the public.
A checksum of every data table (count and md5 of the rows, per table, in the schemas base,
data, registry, thematic, auth and meta) is taken before and after and must not change; the
job log may only gain failed jobs (refused executions), the audit log is not checked (every
request is audited).
"""

from __future__ import annotations

import json
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import httpx
import psycopg2
import pytest
import yaml
from psycopg2 import sql

from tests.conftest import Caller
from tests.hostile.leaks import leaked

CORPUS = yaml.safe_load((Path(__file__).with_name("corpus.yml")).read_text(encoding="utf-8"))
CHECKED_SCHEMAS = ("base", "data", "registry", "thematic", "auth", "meta")
# columns a read legitimately writes: a key's last use (keys.touch, at most once a minute)
VOLATILE = {("auth", "api_key"): ("last_used",)}
# pygeoapi records a job before it runs the processor, so an execute request the processor
# refuses (400) leaves a failed job: checked apart (old rows unchanged, new rows all failed)
JOB_LOG = "meta.process_job"
MB = 1024 * 1024
# who sends each kind of probe (query parameters: the administrator, who reaches every route)
CALLERS = {
    "sql-query": ("admin",),
    "sql-path": ("admin", "public"),
    "traversal": ("admin", "public"),
    "cql2-text": ("admin", "public"),
    "cql2-json": ("admin", "public"),
    "huge": ("admin", "public"),
    "broken-utf8": ("admin", "public"),
    "body": ("admin",),
}


# -- the database checksum ------------------------------------------------------------------


def checksum(db_url: str) -> dict[str, tuple[int, str]]:
    """Per table of the data schemas: (row count, md5 of the sorted md5s of its rows)."""
    out: dict[str, tuple[int, str]] = {}
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_type = 'BASE TABLE' AND table_schema = ANY(%s) ORDER BY 1, 2",
            (list(CHECKED_SCHEMAS),),
        )
        for schema, table in cur.fetchall():
            if f"{schema}.{table}" == JOB_LOG:
                continue
            cur.execute(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = %s ORDER BY ordinal_position",
                (schema, table),
            )
            skip = VOLATILE.get((schema, table), ())
            columns = [sql.Identifier(c) for (c,) in cur.fetchall() if c not in skip]
            row = sql.SQL("ROW({})::text").format(sql.SQL(", ").join(columns))
            cur.execute(
                sql.SQL(
                    "SELECT count(*), coalesce(md5(string_agg(h, '' ORDER BY h)), '') "
                    "FROM (SELECT md5({}) AS h FROM {}) AS t"
                ).format(row, sql.Identifier(schema, table))
            )
            count, digest = cur.fetchone()  # type: ignore[misc]
            out[f"{schema}.{table}"] = (int(count), str(digest))
    conn.close()
    return out


def jobs(db_url: str) -> dict[str, tuple[str, str]]:
    """Every job: its status and the md5 of its row."""
    with psycopg2.connect(db_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT identifier, status, md5(j::text) FROM meta.process_job AS j")
        out = {str(i): (str(status), str(digest)) for i, status, digest in cur.fetchall()}
    conn.close()
    return out


# -- the corpus, expanded ---------------------------------------------------------------------


@dataclass(frozen=True)
class Probe:
    """One hostile request and what answers are right for it."""

    kind: str
    method: str
    target: str  # path and query, already percent-encoded
    body: bytes | None = None
    # None: only a 4xx is right; "literal": a 2xx that matched nothing; "ignored" / "valid": any 2xx
    literal: str | None = None


def _fill(path: str) -> str:
    """An operation's path with harmless values in its path parameters."""
    values = {
        "{featureId}": "1",
        "{tileMatrixSetId}": "WebMercatorQuad",
        "{tileMatrix}": "12",
        "{tileRow}": "1700",
        "{tileCol}": "3430",
    }
    for name, value in values.items():
        path = path.replace(name, value)
    return path


def query_probes(document: dict[str, Any]) -> list[Probe]:
    """Each SQL payload in each query parameter of the corpus's operations."""
    components = document.get("components", {}).get("parameters", {})
    syntax = set(CORPUS["syntax_parameters"])
    ignored = set(CORPUS["ignored_parameters"])
    by_operation = CORPUS["ignored_by_operation"]
    probes = []
    payloads = CORPUS["sql_payloads"][: CORPUS["query_payloads"]]
    for label in CORPUS["query_operations"]:
        method, path_and_base = label.split(" ", 1)
        path, _, base = path_and_base.partition("?")
        operation = document["paths"][path][method.lower()]
        names = []
        for parameter in operation.get("parameters", []):
            if "$ref" in parameter:
                parameter = components[parameter["$ref"].rsplit("/", 1)[-1]]
            if parameter.get("in") == "query" and parameter["name"] not in names:
                names.append(parameter["name"])
        assert names or path in ("/processes", "/jobs"), label
        for name in names:
            literal = "ignored" if name in ignored | set(by_operation.get(path, [])) else None
            if literal is None and name not in syntax:
                literal = "literal"
            kept = "&".join(p for p in base.split("&") if p and not p.startswith(f"{name}="))
            for payload in payloads:
                query = f"{quote(name)}={quote(payload, safe='')}"
                target = f"{_fill(path)}?{kept + '&' if kept else ''}{query}"
                probes.append(Probe("sql-query", method, target, literal=literal))
    return probes


def path_probes() -> list[Probe]:
    """SQL payloads and traversals in every path id."""
    probes = []
    for template in CORPUS["path_ids"]:
        method = "POST" if template.endswith("/approve") else "GET"
        for payload in CORPUS["sql_payloads"]:
            target = template.replace("{id}", quote(payload, safe=""))
            probes.append(Probe("sql-path", method, target))
        for payload in CORPUS["traversal_ids"]:  # written already escaped, or raw
            target = template.replace("{id}", payload.replace("\\", "%5C"))
            probes.append(Probe("traversal", method, target))
    return probes


def filter_probes() -> list[Probe]:
    """CQL2 injections in text and JSON, on a public layer and a masked one."""
    probes = []
    for layer in ("poi", "camera"):
        for text in CORPUS["cql2"]:
            target = f"/collections/{layer}/items?filter={quote(text, safe='')}"
            probes.append(Probe("cql2-text", "GET", target))
        for text in CORPUS["cql2_valid"]:
            target = f"/collections/{layer}/items?filter={quote(text, safe='')}"
            probes.append(Probe("cql2-text", "GET", target, literal="valid"))
        for text in CORPUS["cql2_json"]:
            target = (
                f"/collections/{layer}/items?filter-lang=cql2-json&filter={quote(text, safe='')}"
            )
            probes.append(Probe("cql2-json", "GET", target))
    return probes


def other_probes() -> list[Probe]:
    """Huge numbers and broken UTF-8, written as they are sent."""
    probes = []
    for line in CORPUS["huge"]:
        target = line if line.startswith("/") else f"/collections/poi/items?{line}"
        probes.append(Probe("huge", "GET", target))
    for line in CORPUS["broken_utf8"]:
        literal = "literal" if any(k in line for k in ("?name=", "?q=", "?filter=")) else None
        probes.append(Probe("broken-utf8", "GET", line, literal=literal))
    return probes


def body_probes() -> list[Probe]:
    """Huge and malformed JSON bodies for the processes and the applications."""
    addresses = json.dumps({"inputs": {"addresses": ["海曙区中山西路1号"] * 400_000}}).encode()
    long_text = json.dumps({"inputs": {"address": "海" * (3 * MB)}}).encode()
    deep = b'{"inputs": ' + b"[" * 200_000 + b"]" * 200_000 + b"}"
    wide = json.dumps({"inputs": {f"k{i}": i for i in range(300_000)}}).encode()
    application = json.dumps(
        {"resource": "camera", "purpose": "x" * (10 * MB), "valid_until": "2030-01-01"}
    ).encode()
    probes = []
    for process in ("geocode", "geocode-batch", "zonal-stats", "density"):
        for body in (addresses, long_text, deep, wide):
            probes.append(Probe("body", "POST", f"/processes/{process}/execution", body))
    probes.append(Probe("body", "POST", "/applications", application))
    probes.append(Probe("body", "POST", "/applications", deep))
    probes.append(Probe("body", "POST", "/applications", b"\xff" * MB))
    return probes


# -- checking an answer -----------------------------------------------------------------------


def judge(probe: Probe, status: int, text: str) -> str | None:
    """What is wrong with an answer, or None."""
    if status >= 500:
        return f"{status}"
    fragment = leaked(text)
    if status >= 400:
        if fragment:
            return f"{status} leaks {fragment!r}"
        try:
            body = json.loads(text)
        except ValueError:
            return f"{status} without a JSON body"
        if not (isinstance(body, dict) and body.get("code") and body.get("description")):
            return f"{status} without an OGC exception body"
        return None
    if probe.kind == "traversal" and status in (307, 308):
        return None  # a trailing slash taken off (".../%2F" is "...//"): nothing served
    if probe.literal in ("ignored", "valid"):
        return None
    if probe.literal == "literal":
        if probe.target.startswith("/geocode"):
            return None  # an address text, scored like any other
        try:
            body = json.loads(text)
        except ValueError:
            return f"{status} not JSON"
        found = body.get("features", body.get("records"))
        if found:
            return f"{status} with {len(found)} features: the payload matched something"
        return None
    return f"{status}: a hostile request was accepted"


def send(client: httpx.Client, probe: Probe, caller: Caller) -> tuple[int, str]:
    """One probe; the target is sent as written (httpx keeps percent-escapes)."""
    headers = dict(caller.headers)
    if probe.body is not None:
        headers["Content-Type"] = "application/json"
    r = client.request(probe.method, probe.target, content=probe.body, headers=headers)
    return r.status_code, r.text


def raw_request(url: str, request_line: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
    """Send a request line as raw bytes over a socket; the status and the body."""
    parts = urlsplit(url)
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    message = (
        request_line
        + b" HTTP/1.1\r\nHost: "
        + f"{parts.hostname}:{parts.port}\r\n{extra}Connection: close\r\n\r\n".encode()
    )
    with socket.create_connection((parts.hostname, parts.port), timeout=120) as sock:
        sock.sendall(message)
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    answer = b"".join(chunks)
    if not answer:
        return 0, b""  # the server closed the connection: refused, not served
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), body


# -- the test --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def admin_document(hostile_url: str, callers: dict[str, Caller]) -> dict[str, Any]:
    """The OpenAPI document as an administrator gets it."""
    r = httpx.get(f"{hostile_url}/openapi?f=json", headers=callers["admin"].headers, timeout=60)
    assert r.status_code == 200
    document: dict[str, Any] = r.json()
    return document


def test_corpus_is_refused_and_the_database_is_unchanged(
    hostile_url: str,
    callers: dict[str, Caller],
    admin_document: dict[str, Any],
    db_url: str,
) -> None:
    probes = [
        *query_probes(admin_document),
        *path_probes(),
        *filter_probes(),
        *other_probes(),
        *body_probes(),
    ]
    before, jobs_before = checksum(db_url), jobs(db_url)
    problems: list[str] = []
    sent = 0
    started = time.monotonic()
    with httpx.Client(base_url=hostile_url, timeout=120) as client:
        for probe in probes:
            for who in CALLERS[probe.kind]:
                t0 = time.monotonic()
                try:
                    status, text = send(client, probe, callers[who])
                except httpx.TransportError as exc:
                    status, text = 599, f"transport error {exc!r}"
                dt = time.monotonic() - t0
                if dt > 1:
                    print(
                        f"SLOW {dt:.1f} {probe.kind} {probe.method} {probe.target[:100]} {status}"
                    )
                sent += 1
                problem = judge(probe, status, text)
                if problem:
                    problems.append(f"{who} {probe.method} {probe.target[:160]}: {problem}")
        raw_sent, raw_problems = raw_probes(hostile_url, callers["admin"])
        sent += raw_sent
        problems.extend(raw_problems)
    elapsed = time.monotonic() - started
    after, jobs_after = checksum(db_url), jobs(db_url)
    print(f"corpus: {len(probes) + raw_sent} probes, {sent} requests in {elapsed:.1f} s")
    assert not problems, f"{len(problems)} bad answers:\n" + "\n".join(problems[:30])
    changed = [t for t in before if before[t] != after.get(t)] + sorted(set(after) - set(before))
    assert not changed, f"tables changed by the corpus: {changed}"
    # a job another test started may still be running: only finished ones must stay as they were
    finished = {i: v for i, v in jobs_before.items() if v[0] not in ("accepted", "running")}
    assert all(jobs_after.get(i) == v for i, v in finished.items()), "a job was changed"
    new_jobs = {v[0] for i, v in jobs_after.items() if i not in jobs_before}
    assert new_jobs <= {"failed"}, f"the corpus ran jobs: {new_jobs}"
    print(
        f"corpus: {len(before)} tables unchanged; {len(jobs_after) - len(jobs_before)} failed jobs"
    )


def raw_probes(url: str, caller: Caller) -> tuple[int, list[str]]:
    """Raw bytes in the request line, and a 10 MB query string, over a socket (uvicorn and its
    HTTP parser answer these before the application)."""
    problems = []
    lines = [
        b"GET /collections/poi/items?name=\xff\xfe\xfd",
        b"GET /collections/poi/items?filter=name%3D%27\xc0\xaf%27",
        b"GET /collections/poi/items/\xff",
        b"GET /geocode?q=\xe6\xb5\xb7\xed\xa0\x80",
        b"GET /collections/poi/items?" + b"name=" + b"a" * (10 * MB),
        b"GET /collections/poi/items?" + b"&".join([b"x=1"] * (2 * MB // 4)),
        b"GET /geocode?q=" + b"%E6%B5%B7" * (MB // 9 * 10),
    ]
    for line in lines:
        started = time.monotonic()
        status, body = raw_request(url, line, caller.headers)
        text = body.decode("utf-8", "replace")
        took = time.monotonic() - started
        print(f"raw {line[:40]!r}... ({len(line):,} bytes): {status} {text[:40]!r} {took:.2f} s")
        if status == 0 or status in (400, 404, 413, 414, 431):
            fragment = leaked(text)
            if fragment:
                problems.append(f"raw {line[:60]!r}: {status} leaks {fragment!r}")
            continue
        problems.append(f"raw {line[:60]!r}: {status} {text[:200]}")
    return len(lines), problems
