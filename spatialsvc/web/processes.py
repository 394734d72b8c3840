"""OGC API - Processes paths, answered by pygeoapi's process functions through our adapter.

``/processes``, ``/processes/{id}``, ``POST /processes/{id}/execution``, ``/jobs``,
``/jobs/{id}`` (GET, DELETE) and ``/jobs/{id}/results``. The processors and the job manager are
in :mod:`spatialsvc.processes`; pygeoapi does the protocol (sync / ``Prefer: respond-async``,
job documents, results).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from spatialsvc.web.app import AppState
from spatialsvc.web.pygeoapi_routes import PygeoapiAdapter


def routes(state: AppState) -> list[BaseRoute]:
    """The process and job routes (none when the configuration has no process)."""
    import pygeoapi.api.processes as processes

    if not any(r.get("type") == "process" for r in state.config["resources"].values()):
        return []
    adapter: PygeoapiAdapter = state.extras["pygeoapi"]

    def call(function: Any, *names: str) -> Any:
        async def endpoint(request: Request) -> Response:
            args = [request.path_params[n] for n in names]
            return await adapter.call(function, request, *args)

        return endpoint

    async def job(request: Request) -> Response:
        function = processes.delete_job if request.method == "DELETE" else processes.get_jobs
        return await adapter.call(function, request, request.path_params["job_id"])

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
