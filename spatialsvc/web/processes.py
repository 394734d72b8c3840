"""OGC API - Processes paths, answered by pygeoapi's process functions through our adapter.

``/processes``, ``/processes/{id}``, ``POST /processes/{id}/execution``, ``/jobs``,
``/jobs/{id}`` (GET, DELETE) and ``/jobs/{id}/results``. The processors and the job manager are
in :mod:`spatialsvc.processes`; pygeoapi does the protocol (sync / ``Prefer: respond-async``,
job documents, results). Each call runs with the caller in
:data:`spatialsvc.processes.manager.CALLER`, so jobs are listed and read per department.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from spatialsvc.auth.principal import Principal
from spatialsvc.errors import InvalidInput
from spatialsvc.processes.manager import CALLER, JobCaller
from spatialsvc.web.access import principal_of
from spatialsvc.web.app import AppState
from spatialsvc.web.pygeoapi_routes import PygeoapiAdapter

LOG = logging.getLogger(__name__)


def job_caller(principal: Principal | None) -> JobCaller | None:
    """Whose jobs a request may see (None: access control is off, every job)."""
    if principal is None:
        return None
    return JobCaller(principal.department, principal.who, principal.is_admin)


def check_execute_body(body: bytes) -> None:
    """Refuse an execute request that is not a JSON object, or whose ``inputs`` or
    ``subscriber`` is not one: pygeoapi 0.21 answers a body that is not UTF-8 with a 500, and
    calls ``.get`` on the others (another 500).
    """
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError too
        raise InvalidInput("the execute request must be a JSON object with 'inputs'") from None
    if not isinstance(data, dict):
        raise InvalidInput("the execute request must be a JSON object with 'inputs'")
    for name in ("inputs", "subscriber"):
        if data.get(name) is not None and not isinstance(data[name], dict):
            raise InvalidInput(f"{name}: must be a JSON object")


def routes(state: AppState) -> list[BaseRoute]:
    """The process and job routes (none when the configuration has no process)."""
    import pygeoapi.api.processes as processes

    if not any(r.get("type") == "process" for r in state.config["resources"].values()):
        return []
    adapter: PygeoapiAdapter = state.extras["pygeoapi"]

    async def as_caller(request: Request, function: Any, *args: Any) -> Response:
        token = CALLER.set(job_caller(principal_of(request.scope)))
        try:
            return await adapter.call(function, request, *args)
        finally:
            CALLER.reset(token)

    def call(function: Any, *names: str) -> Any:
        async def endpoint(request: Request) -> Response:
            args = [request.path_params[n] for n in names]
            return await as_caller(request, function, *args)

        return endpoint

    async def execute(request: Request) -> Response:
        check_execute_body(await request.body())
        process_id = request.path_params["process_id"]
        response = await as_caller(request, processes.execute_process, process_id)
        if response.status_code == 400 and "respond-async" not in request.headers.get("prefer", ""):
            await _forget_refused(request, response)
        return response

    async def _forget_refused(request: Request, response: Response) -> None:
        """Delete the failed job pygeoapi made for a refused synchronous execution.

        pygeoapi creates the job before the processor checks its inputs, so every refused
        request (a bad polygon, an unknown input) left a failed job in ``/jobs``: the caller
        already has the reason in the answer, and nobody can act on the job.
        """
        location = response.headers.get("location", "")
        job_id = location.rsplit("/jobs/", 1)[-1] if "/jobs/" in location else ""
        if not job_id:
            return
        token = CALLER.set(job_caller(principal_of(request.scope)))
        try:
            await run_in_threadpool(adapter.api.manager.delete_job, job_id)
        except Exception:  # the answer stands; the job row stays as failed
            LOG.warning("cannot delete the failed job %s of a refused request", job_id)
        finally:
            CALLER.reset(token)
        del response.headers["location"]

    async def job(request: Request) -> Response:
        function = processes.delete_job if request.method == "DELETE" else processes.get_jobs
        return await as_caller(request, function, request.path_params["job_id"])

    return [
        Route("/processes", call(processes.describe_processes), methods=["GET"]),
        Route(
            "/processes/{process_id}",
            call(processes.describe_processes, "process_id"),
            methods=["GET"],
        ),
        Route("/processes/{process_id}/execution", execute, methods=["POST"]),
        Route("/jobs", call(processes.get_jobs), methods=["GET"]),
        Route("/jobs/{job_id}", job, methods=["GET", "DELETE"]),
        Route("/jobs/{job_id}/results", call(processes.get_job_result, "job_id"), methods=["GET"]),
    ]
