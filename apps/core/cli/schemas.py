"""`archive schema list|check|apply`: the record's schema versions."""

from __future__ import annotations

import json

from django.core.management.base import CommandError

from apps.core.cli import actor, os_user, print_json, read_json, table


def register(sub) -> None:
    schema = sub.add_parser("schema", help="list, check or apply record schema versions (docs/stream-contract.md)")
    schema.add_argument("action", choices=["list", "check", "apply"],
                        help="list: versions and the current fields; check: is --file a compatible next "
                             "version, and why not; apply: record it and evolve ClickHouse and Iceberg")
    schema.add_argument("--file", metavar="F", help="check/apply: the version as JSON ('-' = stdin)")
    schema.add_argument("--dry-run", action="store_true", help="apply: check and show the ClickHouse change only")
    schema.add_argument("--format", choices=["text", "json"], default="text",
                        help="json: list prints the current version, check and apply their outcome, as one object")
    schema.add_argument("--json", dest="format", action="store_const", const="json",
                        help="the same as --format json")
    schema.add_argument("--by", default=None, metavar="USERNAME", help="apply: portal user to record as the actor")
    schema.set_defaults(handler=handle_schema)


def handle_schema(cmd, options):
    from django.core.exceptions import PermissionDenied

    from apps.accounts.actors import require_permission
    from apps.schemas import registry, services

    if options["action"] == "list":
        applied = registry.versions()
        if options["format"] == "json":
            cmd.stdout.write(json.dumps(applied[-1].as_dict(), indent=2))
            return
        versions, fields = _schema_rows(applied)
        cmd.stdout.write(table(["version", "adds", "deprecates", "removes", "doc"], versions))
        cmd.stdout.write(f"\nfields of version {applied[-1].version}:")
        cmd.stdout.write(table(["name", "kind", "nullable", "default", "added in", "deprecated in", "doc"],
                                 fields))
        return
    if not options["file"]:
        raise CommandError(f"{options['action']} needs --file F (a JSON version, see docs/stream-contract.md)")
    who = actor(options["by"])
    if options["action"] == "apply" and not options["dry_run"]:
        try:  # refuse here, before anything is sent to the warehouse (the service checks again)
            require_permission(who, "schemas.add_schemaversion")
        except PermissionDenied as exc:
            raise CommandError(str(exc)) from None
    spec = read_json(options["file"])

    check = services.schema_check(spec=spec)  # no warehouse needed: refuse before dispatching anything
    if not check.compatible:
        _schema_refused(cmd, spec, check.reasons)
    summary = check.summary()
    changes = ", ".join(f"{k} {', '.join(v)}" for k in ("added", "deprecated", "removed") if (v := summary[k]))
    as_json = options["format"] == "json"
    if options["action"] == "check":
        if as_json:
            return print_json(cmd, {**summary, "compatible": True})
        cmd.stdout.write(f"version {summary['version']} is compatible with version {summary['current']}: "
                          f"{changes or 'no field changes'}")
        return
    if options["dry_run"]:
        result = services.schema_apply(spec=spec, actor=who, dry_run=True)
        if as_json:
            return print_json(cmd, {**result, "dry_run": True})
        clickhouse = "ClickHouse would run:" if result["statements"] else "no ClickHouse change"
        cmd.stdout.write(f"version {result['version']} would be applied ({changes or 'no field changes'}); "
                          f"{clickhouse}")
        for sql in result["statements"]:
            cmd.stdout.write(f"  {sql}")
        return
    from apps.schemas.tasks import schema_apply
    from apps.warehouse.dispatch import run_on_warehouse

    result = run_on_warehouse(schema_apply, timeout=600, spec=spec, via=f"cli:{os_user()}",
                              actor=who.as_task())
    if not result["applied"]:
        _schema_refused(cmd, spec, result["reasons"])
    if as_json:
        return print_json(cmd, result)
    cmd.stdout.write(f"applied version {result['version']} ({changes or 'no field changes'}); "
                      f"ClickHouse migration {result['clickhouse_migration']}, Iceberg table evolved")

def _schema_refused(cmd, spec, reasons: list[str]):
    version = spec.get("version") if isinstance(spec, dict) else None
    for reason in reasons:
        cmd.stderr.write(f"  - {reason}")
    raise CommandError(f"schema version {version} is refused ({len(reasons)} reasons above); nothing changed")


def _schema_rows(applied) -> tuple[list[list], list[list]]:
    """`archive schema list` as table rows: one per version, and one per field of the current version."""
    versions = []
    previous: dict = {}
    for spec in applied:
        new = spec.by_name
        versions.append([
            spec.version,
            ", ".join(n for n in new if n not in previous) if previous else f"{len(new)} fields",
            ", ".join(n for n, f in new.items() if f.deprecated_in == spec.version),
            ", ".join(n for n in previous if n not in new),
            spec.doc,
        ])
        previous = new
    fields = [[f.name, f.kind, "yes" if f.nullable else "", json.dumps(f.default), f.added_in, f.deprecated_in or "",
               f.doc] for f in applied[-1].fields]
    return versions, fields
