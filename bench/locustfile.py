"""The clients of ``bench/load.py``: locust users mixing the service's main kinds of request.

Run by ``bench/load.py`` (``locust -f bench/locustfile.py --headless ...``), which writes the
request material to a JSON file named by ``SPATIALSVC_LOAD_DATA`` and the consumer key to
``SPATIALSVC_LOAD_KEY``. Each user, after a think time (``SPATIALSVC_LOAD_WAIT``, "LOW,HIGH"
seconds; "0,0" sends back to back), picks one of (by weight):

- items (3): ``/collections/standard_address/items`` in a random ~1 km bbox, limit=100;
- tile (4): a vector tile of ``standard_address`` at z14-z16 over the addresses;
- geocode (2): ``/geocode?q=`` with a standard address written without its room;
- catalogue (1): a catalogue search, ``/collections/catalogue/items?q=`` with a word of a title;
- conformance (1): ``/conformance``, a route that does no work (the anchor).

Every answer must be 200 (204 for an empty tile) with the content type expected; anything else
counts as a failure, with its status and the start of its body.
"""

from __future__ import annotations

import json
import os
import random
from typing import Any
from urllib.parse import quote

from locust import FastHttpUser, between, constant, task

DATA: dict[str, Any] = json.loads(open(os.environ["SPATIALSVC_LOAD_DATA"], encoding="utf-8").read())
LOW, HIGH = (float(v) for v in os.environ.get("SPATIALSVC_LOAD_WAIT", "0.5,1.5").split(","))


class Client(FastHttpUser):
    """One department's app calling the service."""

    wait_time = between(LOW, HIGH) if HIGH > 0 else constant(0)
    network_timeout = 60.0
    connection_timeout = 60.0

    def on_start(self) -> None:
        self.headers = {"Authorization": f"Bearer {os.environ['SPATIALSVC_LOAD_KEY']}"}
        self.rng = random.Random()

    def _get(self, path: str, name: str, ok: tuple[int, ...], kind: str) -> None:
        with self.client.get(
            path, name=name, headers=self.headers, catch_response=True
        ) as response:
            if response.status_code not in ok:
                body = (response.text or "")[:120]
                response.failure(f"{response.status_code}: {body}")
            elif response.status_code == 200 and kind not in (
                response.headers.get("content-type") or ""
            ):
                response.failure(f"content-type {response.headers.get('content-type')}")
            else:
                response.success()

    @task(3)
    def items(self) -> None:
        west, south, east, north = DATA["bbox"]
        x = self.rng.uniform(west, east - 0.01)
        y = self.rng.uniform(south, north - 0.01)
        bbox = f"{x:.4f},{y:.4f},{x + 0.01:.4f},{y + 0.01:.4f}"
        path = f"/collections/standard_address/items?bbox={bbox}&limit=100&f=json"
        self._get(path, "items", (200,), "json")

    @task(4)
    def tile(self) -> None:
        path = self.rng.choice(DATA["tiles"])
        self._get(path, "tile", (200, 204), "mapbox-vector-tile")

    @task(2)
    def geocode(self) -> None:
        text = self.rng.choice(DATA["addresses"])
        self._get(f"/geocode?q={quote(text)}", "geocode", (200,), "json")

    @task(1)
    def catalogue(self) -> None:
        word = self.rng.choice(DATA["words"])
        path = f"/collections/catalogue/items?q={quote(word)}&f=json&limit=20"
        self._get(path, "catalogue", (200,), "json")

    @task(1)
    def conformance(self) -> None:
        """The anchor: a route that does no work, sent by the same clients."""
        self._get("/conformance?f=json", "conformance", (200,), "json")
