"""Evolves both tiers to the registry: ClickHouse columns as recorded migrations, Iceberg fields by id.

Idempotent and safe to replay: a fresh database gets every applied version after the file
migrations, an evolved one gets nothing. Columns are only ever added, never dropped or changed.
"""

from __future__ import annotations

import logging

from pyiceberg.table import Table

from apps.lake import table as lake_table
from apps.records.schema import Column, LiveSchema
from apps.schemas import registry
from apps.warehouse import client as ch
from apps.warehouse import migrator

logger = logging.getLogger(__name__)
# Same choices as 0001_jobs_archive: ZSTD where LZ4 barely helps (ids, text, numbers, maps, key hashes).
_CODECS = {"string": " CODEC(ZSTD(3))", "lowcard": "", "int": "", "long": " CODEC(ZSTD(3))",
           "time": " CODEC(ZSTD(3))", "tags": " CODEC(ZSTD(3))", "keys": " CODEC(ZSTD(3))"}
_DEFAULT_PARAMETER = {"string": "{default:String}", "lowcard": "{default:String}", "int": "{default:Int32}",
                      "long": "{default:Int64}", "time": "fromUnixTimestamp64Micro({default:Int64}, 'UTC')"}


def migration_name(version: int) -> str:
    """The name a version's ClickHouse change is recorded under in `{db}.schema_migrations`."""
    return f"schema_v{version:04d}"


def add_column_statement(column: Column) -> tuple[str, dict]:
    """`ALTER TABLE ... ADD COLUMN IF NOT EXISTS` for one added field; the default is a bound parameter."""
    name = ch.identifier(column.name)
    if column.default is None:
        default, parameters = "", {}  # only nullable fields have none: they default to NULL
    elif column.kind == "tags":
        default, parameters = " DEFAULT map()", {}
    elif column.kind == "keys":
        default, parameters = " DEFAULT []", {}
    else:
        default, parameters = f" DEFAULT {_DEFAULT_PARAMETER[column.kind]}", {"default": column.default}
    sql = (f"ALTER TABLE {{db}}.jobs_archive ADD COLUMN IF NOT EXISTS `{name}` {column.clickhouse_type}"
           f"{default}{_CODECS[column.kind]}")
    return sql, parameters


def planned_statements(schema: LiveSchema, version: int) -> list[str]:
    """The ClickHouse change of one version, readable (bound defaults shown alongside); for dry runs."""
    planned = []
    for column in (c for c in schema.added if c.added_in == version):
        sql, parameters = add_column_statement(column)
        planned.append(sql.replace("{db}", ch.database()) + (f"  -- default = {column.default!r}" if parameters else ""))
    return planned


def evolve_clickhouse(schema: LiveSchema) -> list[str]:
    """Add the columns of every applied version not yet recorded here; returns the migration names applied."""
    done = migrator.applied()
    newly = []
    for version in range(2, schema.version + 1):
        name = migration_name(version)
        if name in done:
            continue
        for column in (c for c in schema.added if c.added_in == version):
            sql, parameters = add_column_statement(column)
            ch.command(sql, tag=f"migrate:{name}", parameters=parameters)
            _check_clickhouse_type(column)
        ch.command("INSERT INTO {db}.schema_migrations (name) VALUES ({name:String})", tag="migrate",
                   parameters={"name": name})
        logger.info("applied ClickHouse migration %s", name)
        newly.append(name)
    return newly


def _check_clickhouse_type(column: Column) -> None:
    # IF NOT EXISTS keeps a column left by an earlier, failed attempt; it must be the same column.
    found = ch.query(
        "SELECT type FROM system.columns WHERE database = {database:String} AND table = 'jobs_archive' "
        "AND name = {name:String}",
        tag="migrate", parameters={"database": ch.database(), "name": column.name},
    ).result_rows
    if found and found[0][0] != column.clickhouse_type:
        raise ch.WarehouseError(f"jobs_archive.{column.name} is {found[0][0]}, but the schema registry says "
                                f"{column.clickhouse_type}; rename or drop that column by hand first")


def _iceberg_default(column: Column):
    # Iceberg's initial-default is what files written before the field read as (pyiceberg applies it).
    # Iceberg has defaults for primitive fields only: a map or list written earlier reads as null.
    return None if column.nested_ids else column.default


def evolve_lake(schema: LiveSchema, table: Table | None = None) -> list[str]:
    """Add the missing fields to the Iceberg table (new ids after the highest); returns their names."""
    table = table or lake_table.load_table()
    existing = {f.name: f for f in table.schema().fields}
    missing = []
    for column in schema.added:
        field = existing.get(column.name)
        if field is None:
            missing.append(column)
        elif str(field.field_type) != str(column.iceberg_type(0)):  # the shape, not the nested field ids
            raise ch.WarehouseError(f"Iceberg field {column.name} is {field.field_type}, but the schema registry "
                                    f"says {column.iceberg_type(0)}")
    if missing:
        with table.update_schema() as update:
            for column in missing:
                update.add_column(column.name, column.iceberg_type(1), doc=column.doc or None,
                                  default_value=_iceberg_default(column))
        logger.info("added Iceberg fields %s", ", ".join(c.name for c in missing))
    return [c.name for c in missing]


def evolve_warehouse() -> dict:
    """Both tiers up to the registry; `apps.warehouse.services.warehouse_migrate` calls it before relinking."""
    schema = registry.load_live()
    return {"schema_version": schema.version, "clickhouse_applied": evolve_clickhouse(schema),
            "iceberg_added": evolve_lake(schema)}
