"""OGC API - Processes paths, answered by pygeoapi's process functions through our adapter.

``/processes``, ``/processes/{id}``, ``POST /processes/{id}/execution``, ``/jobs``,
``/jobs/{id}`` (GET, DELETE) and ``/jobs/{id}/results``. The processors and the job manager are
in :mod:`spatialsvc.processes`; pygeoapi does the protocol (sync / ``Prefer: respond-async``,
job documents, results). Each call runs with the caller in
:data:`spatialsvc.processes.manager.CALLER`, so jobs are listed and read per department.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from spatialsvc.auth.principal import Principal
from spatialsvc.processes.manager import CALLER, JobCaller
from spatialsvc.web.access import principal_of
from spatialsvc.web.app import AppState
from spatialsvc.web.pygeoapi_routes import PygeoapiAdapter


def job_caller(principal: Principal | None) -> JobCaller | None:
    """Whose jobs a request may see (None: access control is off, every job)."""
    if principal is None:
        return None
    return JobCaller(principal.department, principal.who, principal.is_admin)


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
        Route(
            "/processes/{process_id}/execution",
            call(processes.execute_process, "process_id"),
            methods=["POST"],
        ),
        Route("/jobs", call(processes.get_jobs), methods=["GET"]),
        Route("/jobs/{job_id}", job, methods=["GET", "DELETE"]),
        Route("/jobs/{job_id}/results", call(processes.get_job_result, "job_id"), methods=["GET"]),
    ]
