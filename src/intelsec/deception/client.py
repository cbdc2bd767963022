"""Beacon client: sign and post touches to the control plane, optionally from a background thread.

    from intelsec.deception.client import BeaconClient
    BeaconClient("https://intelsec.internal").send("payments-v2-export-settlements", key, source_ip="203.0.113.9")
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, Protocol

import httpx

from intelsec.deception.beacons import SIGNATURE_HEADER, encode

log = logging.getLogger("intelsec.deception")
BEACON_PATH = "/api/v1/beacons"


class Sender(Protocol):
    def submit(self, asset_id: str, key: str, fields: dict[str, Any]) -> None: ...


class BeaconClient:
    """Synchronous client; every call has a timeout."""

    def __init__(self, control_plane_url: str, timeout: float = 3.0, verify: bool | str = True) -> None:
        self.endpoint = control_plane_url.rstrip("/") + BEACON_PATH
        self._http = httpx.Client(timeout=timeout, verify=verify)

    def __repr__(self) -> str:
        return f"BeaconClient({self.endpoint!r})"

    def send(self, asset_id: str, key: str, **fields: Any) -> httpx.Response:
        body, signature = encode(key, {"asset": asset_id, **{k: v for k, v in fields.items() if v is not None}})
        return self._http.post(self.endpoint, content=body,
                               headers={SIGNATURE_HEADER: signature, "content-type": "application/json"})

    def submit(self, asset_id: str, key: str, fields: dict[str, Any]) -> None:
        self.send(asset_id, key, **fields)

    def close(self) -> None:
        self._http.close()


class BackgroundBeacons:
    """Queue beacons and post them from one worker thread, so a touched route answers at once.

    The queue is bounded: under a flood, extra beacons are dropped and counted (`dropped`); the
    control plane de-duplicates per source anyway.
    """

    def __init__(self, client: BeaconClient, maxsize: int = 1000, retries: int = 2) -> None:
        self.client = client
        self.retries = retries
        self.sent = 0
        self.failed = 0
        self.dropped = 0
        self._queue: queue.Queue[tuple[str, str, dict[str, Any]] | None] = queue.Queue(maxsize)
        self._thread = threading.Thread(target=self._run, name="intelsec-beacons", daemon=True)
        self._thread.start()

    def submit(self, asset_id: str, key: str, fields: dict[str, Any]) -> None:
        try:
            self._queue.put_nowait((asset_id, key, fields))
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            asset_id, key, fields = item
            for attempt in range(self.retries + 1):
                try:
                    resp = self.client.send(asset_id, key, **fields)
                    if resp.status_code < 500:
                        self.sent += resp.status_code < 300
                        self.failed += resp.status_code >= 300
                        break
                except httpx.HTTPError as exc:
                    if attempt == self.retries:
                        self.failed += 1
                        log.warning("beacon for %s not delivered: %s", asset_id, type(exc).__name__)
            self._queue.task_done()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait until queued beacons were attempted (tests, shutdown)."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        done.wait(timeout)

    def close(self) -> None:
        self.flush()
        self._queue.put(None)
        self._thread.join(5)
        self.client.close()
