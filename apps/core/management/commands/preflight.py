"""`manage.py preflight`: check PostgreSQL and Redis (and create the database) before anything else."""

from django.core.management.base import BaseCommand, CommandError

from apps.core import preflight


class Command(BaseCommand):
    help = "Check that PostgreSQL and Redis are reachable and create the portal database if missing."

    def add_arguments(self, parser):
        parser.add_argument("--s3", action="store_true", help="also check the S3 bucket")

    def handle(self, *args, **options):
        checks = [preflight.check_postgres(), preflight.check_redis()]
        if options["s3"]:
            checks.append(preflight.check_s3())
        failed = [c for c in checks if not c.ok]
        for check in checks:
            self.stdout.write(f"{'ok ' if check.ok else 'FAIL'} {check.name}: {check.detail}")
        if failed:
            raise CommandError("; ".join(c.detail for c in failed))
        if preflight.ensure_database():
            self.stdout.write("created the portal database")
