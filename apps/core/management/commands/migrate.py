"""`manage.py migrate`: Django's migrations, then the beat schedule and the warehouse (ClickHouse, Iceberg)."""

from django.conf import settings
from django.core.management.commands.migrate import Command as DjangoMigrate

from apps.core.schedule import sync_schedule


class Command(DjangoMigrate):
    help = DjangoMigrate.help + " Then syncs the beat schedule and applies the warehouse migrations."

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--skip-warehouse", action="store_true",
            help="do not apply the ClickHouse and Iceberg migrations (they need S3 reachable)",
        )

    def handle(self, *args, **options):
        super().handle(*args, **options)
        if options.get("plan") or options.get("check_unapplied") or options.get("app_label"):
            return
        sync_schedule()
        if settings.ARCHIVE_MIGRATE_WAREHOUSE and not options["skip_warehouse"]:
            from apps.warehouse.dispatch import run_on_warehouse
            from apps.warehouse.tasks import warehouse_migrate

            result = run_on_warehouse(warehouse_migrate, timeout=300)
            applied = ", ".join(result["clickhouse_applied"]) or "nothing new"
            self.stdout.write(f"Warehouse: ClickHouse migrations applied: {applied}; Iceberg table {result['iceberg_table']} ready.")
