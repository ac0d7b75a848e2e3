"""/health/ answers from cheap, bounded probes: short timeouts, no query over growing tables, and a
short cache, so a storm of probes (or a dead dependency) cannot load the server."""

from __future__ import annotations

import socket
import threading

from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.operations.health import health_report


class SilentServer:
    """Accepts TCP connections and never answers: a hung dependency."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.accepted = 0
        self.conns: list[socket.socket] = []
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self.conns.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.conns:
            conn.close()


def test_a_hung_s3_is_reported_down_quickly_and_probed_once_per_cache_period(archive, settings, monkeypatch):
    from apps.operations import health

    monkeypatch.setattr(health, "_cached", None)  # a report an earlier test left would be served for 60 s
    settings.HEALTH_CACHE_SECONDS = 60
    hung = SilentServer()
    settings.S3_ENDPOINT_URL = hung.url
    try:
        with CaptureQueriesContext(connection) as queries:
            reports = [health_report() for _ in range(5)]
    finally:
        hung.close()

    assert all(r == reports[0] for r in reports)
    assert reports[0]["status"] == "down" and reports[0]["components"]["s3"] == "down"
    assert reports[0]["components"]["postgresql"] == "ok" and reports[0]["components"]["redis"] == "ok"
    assert hung.accepted == 1  # one probe for five requests, and no retry
    assert len(queries) == 0  # nothing read from the portal's tables


def test_health_reports_the_export_lag_from_the_stream_alone(archive, client):
    archive.redis.xadd(archive.stream, {b"job_id": b"j", b"queue": b"q", b"outcome": b"success",
                                        b"enqueue_time": b"1764000000000"}, id="1000-0")  # an entry from 1970

    page = client.get("/health/")

    assert page.status_code == 503
    body = page.json()
    assert body["status"] == "degraded" and body["components"]["export"] == "lagging"
    assert body["components"]["export_oldest_unexported_age_s"] > 300
