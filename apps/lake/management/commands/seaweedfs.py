"""`manage.py seaweedfs`: run the local S3 server in the foreground (used by `make run`)."""

import signal
from urllib.parse import urlparse

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from apps.lake.seaweedfs import SeaweedFS


def _interrupt(signum, frame):
    raise KeyboardInterrupt


class Command(BaseCommand):
    help = "Run SeaweedFS on 127.0.0.1 as the S3 server of S3_ENDPOINT_URL, data under var/seaweedfs."

    def handle(self, *args, **options):
        endpoint = urlparse(settings.S3_ENDPOINT_URL)
        if endpoint.hostname not in ("127.0.0.1", "localhost"):
            raise CommandError(f"S3_ENDPOINT_URL {settings.S3_ENDPOINT_URL} is not local; nothing to run")
        server = SeaweedFS(
            settings.VAR_DIR / "seaweedfs",
            s3_port=endpoint.port or 8333,
            access_key=settings.AWS_ACCESS_KEY_ID,
            secret_key=settings.AWS_SECRET_ACCESS_KEY,
            bucket=settings.S3_BUCKET,
        )
        self.stdout.write(f"starting SeaweedFS S3 on {server.endpoint_url}, bucket {settings.S3_BUCKET}")
        # honcho stops its processes with SIGTERM: turn it into a clean stop of the server.
        signal.signal(signal.SIGTERM, _interrupt)
        server.start(log_path=settings.VAR_DIR / "seaweedfs.log")
        self.stdout.write(self.style.SUCCESS(f"SeaweedFS ready on {server.endpoint_url}"))
        try:
            server.process.wait()
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
        if server.process.returncode not in (0, -15, None):
            raise CommandError(f"SeaweedFS exited with {server.process.returncode}; see var/seaweedfs.log")
