"""schemathesis over every operation of the served OpenAPI document: zero 5xx.

The document is the one the service serves to a platform administrator (``/openapi?f=json``,
access control on: the fullest list, 166 operations today). Each operation is fuzzed with
schema-valid and schema-violating requests (schemathesis's positive and negative modes) as
three callers: the administrator (reads every layer, sensitive fields masked), the camera
layer's owner (sees it in clear), and the public, against the real service on uvicorn.

Checks: ``not_a_server_error``, and our own: no stack trace or database text in an error body.
The other default checks are off because pygeoapi's OGC document is looser than the service
(see docs/hostile-input.md): ``positive_data_acceptance`` (a schema-valid ``crs=http://x`` or a
bbox in the ocean is rightly refused), ``negative_data_rejection`` (OGC servers ignore unknown
values such as ``f=^`` on the landing page), ``status_code_conformance`` (401/403/405/406 are
not in pygeoapi's document), ``content_type_conformance`` (errors are application/json,
coverages application/prs.coverage+json) and ``response_schema_conformance`` (pygeoapi points
``/conformance`` at the landing page's schema).

Runs are derandomised (the same examples every run) and bounded: ``EXAMPLES`` per operation
and caller, no shrinking, no example database.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.result import Ok

from tests.conftest import Caller
from tests.hostile.leaks import leaked

# examples per operation for each caller; the owner is run on the camera layer's operations.
# SPATIALSVC_HOSTILE_EXAMPLES=N runs N for every caller (a deeper run by hand; CI uses these).
EXAMPLES = {"admin": 3, "public": 2, "owner": 3}
if os.environ.get("SPATIALSVC_HOSTILE_EXAMPLES"):
    EXAMPLES = dict.fromkeys(EXAMPLES, int(os.environ["SPATIALSVC_HOSTILE_EXAMPLES"]))
COVERAGE_PATH = "/collections/terrain_dem/coverage"
# a small bbox keeps the coverage examples cheap (the whole DEM as CoverageJSON is refused:
# more cells than coverage_json_max_cells)
SMALL_BBOX = [121.50, 29.86, 121.51, 29.87]
HTTP_METHODS = {"get", "post", "put", "delete", "patch", "options", "head"}


def operation_count(document: dict[str, Any]) -> int:
    """How many operations (path and method) the document has."""
    return sum(1 for item in document["paths"].values() for m in item if m in HTTP_METHODS)


def _bounded_coverage(case: Any) -> Any:
    if case.operation.path == COVERAGE_PATH:
        query = dict(case.query or {})
        query.setdefault("bbox", SMALL_BBOX)
        case.query = query
    return case


def _strategy(operation: Any) -> st.SearchStrategy[Any]:
    positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
    negative = operation.as_strategy(generation_mode=GenerationMode.NEGATIVE)
    return st.one_of(positive, negative).map(_bounded_coverage)


def fuzz_operation(
    operation: Any,
    examples: int,
    send: Callable[[Any], requests.Response],
    failures: list[str],
) -> int:
    """Run one operation's examples; append a line per 5xx or leak; return how many ran."""
    ran = 0

    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(_strategy(operation))
    def run(case: Any) -> None:
        nonlocal ran
        ran += 1
        response = send(case)
        problem = None
        if response.status_code >= 500:
            problem = f"{response.status_code}"
        elif response.status_code >= 400 and leaked(response.text):
            problem = f"{response.status_code} leaks {leaked(response.text)!r}"
        if problem:
            failures.append(f"{problem}: {case.as_curl_command()}\n    {response.text[:300]}")

    run()
    return ran


@pytest.fixture(scope="module")
def document(hostile_url: str, callers: dict[str, Caller]) -> dict[str, Any]:
    """The OpenAPI document as a platform administrator gets it (every collection)."""
    r = requests.get(f"{hostile_url}/openapi?f=json", headers=callers["admin"].headers, timeout=60)
    assert r.status_code == 200, r.text[:300]
    document: dict[str, Any] = r.json()
    return document


@pytest.mark.parametrize("who", ["admin", "owner", "public"])
def test_no_server_error_on_any_operation(
    who: str, hostile_url: str, callers: dict[str, Caller], document: dict[str, Any]
) -> None:
    schema = schemathesis.openapi.from_dict(document)
    caller = callers[who]
    session = requests.Session()

    def send(case: Any) -> requests.Response:
        response: requests.Response = case.call(
            base_url=hostile_url, session=session, headers=caller.headers, timeout=120
        )
        return response

    failures: list[str] = []
    covered = 0
    examples = 0
    for result in schema.get_all_operations():
        assert isinstance(result, Ok), f"an operation schemathesis cannot read: {result.err()}"
        operation = result.ok()
        if who == "owner" and "/camera" not in operation.path:
            continue
        examples += fuzz_operation(operation, EXAMPLES[who], send, failures)
        covered += 1
    expected = operation_count(document)
    if who == "owner":
        expected = sum(
            1
            for path, item in document["paths"].items()
            if "/camera" in path
            for m in item
            if m in HTTP_METHODS
        )
    print(f"schemathesis {who}: {covered} operations, {examples} requests")
    assert covered == expected
    assert not failures, f"{len(failures)} bad answers:\n" + "\n".join(failures[:20])
