"""Which tables each role's queries may read: one AllowList per role of apps.accounts.roles.

The guard (apps.warehouse.guard) admits a table only if the allow-list of the user's roles names
it. Names are case-sensitive, as ClickHouse's are. Archive tables live in CLICKHOUSE_DATABASE; a
system table is matched by the database `system` and its exact name. Why each system table is in
or out is written next to it here and in docs/explorer.md, "The guard and its allow-lists".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from apps.accounts import roles
from apps.warehouse import rollups

ARCHIVE_TABLES = ("jobs_all", "jobs_archive", "jobs_cold")
# The rollups (apps.warehouse.rollups): aggregates without personal data, in every list that reads the archive.
ROLLUP_TABLES: tuple[str, ...] = rollups.TABLES
# What jobs_all holds per day, queue and outcome (apps.warehouse.held): counts and times, no personal data.
HELD_TABLES = ("held_daily",)
REHYDRATED = r"rehydrated_[0-9a-f]{12}"

# The portal's own bookkeeping in CLICKHOUSE_DATABASE: no role reads it, whatever a list says.
INTERNAL_TABLES = {
    "tier_moves": "the markers of tiering, read through jobs_all",
    "subject_index": "keyed hashes of people's identifiers, for erasure and subject access only",
    "schema_migrations": "the warehouse's migration log",
    "job_index": "the index behind job lookups (the job_lookup template reads it for you)",
    "job_index_in": "the job index's intake",
    "job_index_mv": "the job index's intake",
    "rollup_in": "the rollups' intake",
    "held_days": "which days of held_daily are exact now (the retention_status template reads it for you)",
    **{view: "a materialized view that fills a rollup" for view in rollups.VIEWS},
}

# System tables an SRE or Administrator may read, and why each is safe. None of them holds a
# query's text, a literal of someone's query, a secret or the access rules.
SYSTEM_TABLES = {
    "parts": "size, rows and state of every part (active and inactive, so erasure leftovers show); "
             "names, paths and partition days, no values",
    "columns": "every table's column names, types and comments, the schema browser's source",
    "tables": "engines, sizes and definitions; the IcebergS3 secret of jobs_cold shows as [HIDDEN] "
              "(format_display_secrets_in_show_and_select is pinned to 0), its access key id and URL show",
    "merges": "merges in progress: table, part names, progress, memory",
    "metrics": "gauges of the engine now (connections, threads, memory), numbers only",
    "events": "counters since the engine started, numbers only",
    "asynchronous_metrics": "periodically computed gauges (memory, disks, CPU), numbers only",
    "disks": "free and total space of each disk and its path",
}

# System tables refused to every role, with the reason a refusal gives. Any other system table is
# refused too; these are the ones someone is likely to try.
REFUSED_SYSTEM_TABLES = {
    "query_log": "it holds other people's query texts, literals (personal data) included",
    "query_thread_log": "it holds other people's query texts",
    "query_views_log": "it holds other people's query texts",
    "user_query_log": "it holds query texts",
    "processes": "it holds the texts of the queries running now, other people's included",
    "user_processes": "it holds users' running queries",
    "session_query_ids": "it names other sessions' queries",
    "text_log": "the engine's log quotes queries and their literals",
    "query_cache": "it holds the cached results and texts of other people's queries",
    "errors": "its last error messages quote queries and their literals",
    "mutations": "a mutation keeps its predicate as text, with the bound values (job ids, key hashes) "
                 "written out as literals",
    "dictionaries": "a dictionary's source may be a file, a URL or another database",
    "named_collections": "named collections hold credentials",
    "databases": "a database engine's definition may hold credentials",
    "users": "access control is not for queries",
    "roles": "access control is not for queries",
    "grants": "access control is not for queries",
    "role_grants": "access control is not for queries",
    "quotas": "access control is not for queries",
    "row_policies": "access control is not for queries",
    "settings_profiles": "access control is not for queries",
    "settings": "the session's settings are the portal's, not the query's",
    "server_settings": "the server's configuration (paths, limits) is not for queries",
    "stack_trace": "the engine's internals",
    "symbols": "the engine's internals",
    "numbers": "an endless generator; the portal's caps are for the archive",
    "numbers_mt": "an endless generator; the portal's caps are for the archive",
    "zeros": "an endless generator; the portal's caps are for the archive",
}


@dataclass(frozen=True)
class AllowList:
    """The tables one role (or a union of roles) may read. An empty list may not run queries."""

    name: str
    tables: frozenset[str] = frozenset()
    patterns: tuple[str, ...] = ()  # full-match regular expressions over table names
    system_tables: frozenset[str] = frozenset()

    def __post_init__(self):
        for table in INTERNAL_TABLES:
            if table in self.tables or any(re.fullmatch(p, table) for p in self.patterns):
                raise ValueError(f"allow-list {self.name} names {table}, the portal's own bookkeeping")

    @property
    def may_query(self) -> bool:
        return bool(self.tables or self.patterns or self.system_tables)

    def allows(self, name: str) -> bool:
        """An archive table, in CLICKHOUSE_DATABASE, by its exact name."""
        return name not in INTERNAL_TABLES and (
            name in self.tables or any(re.fullmatch(p, name) for p in self.patterns))

    def allows_system(self, name: str) -> bool:
        return name in self.system_tables

    def union(self, other: AllowList) -> AllowList:
        return AllowList(
            name=f"{self.name}+{other.name}",
            tables=self.tables | other.tables,
            patterns=tuple(dict.fromkeys(self.patterns + other.patterns)),
            system_tables=self.system_tables | other.system_tables,
        )

    def describe(self) -> str:
        """What this list reads, as the tail of a refusal."""
        archive = [*sorted(self.tables), *(_shown_pattern(p) for p in self.patterns)]
        text = f"queries read only the archive tables ({', '.join(archive)})"
        if self.system_tables:
            text += " and " + ", ".join(f"system.{t}" for t in sorted(self.system_tables))
        return text


def _shown_pattern(pattern: str) -> str:
    return "rehydrated_*" if pattern == REHYDRATED else pattern


ANALYST = AllowList(name=roles.ANALYST, tables=frozenset(ARCHIVE_TABLES + ROLLUP_TABLES + HELD_TABLES), patterns=(REHYDRATED,))
SRE = AllowList(name=roles.SRE, tables=ANALYST.tables, patterns=ANALYST.patterns,
                system_tables=frozenset(SYSTEM_TABLES))
ADMINISTRATOR = AllowList(name=roles.ADMINISTRATOR, tables=SRE.tables, patterns=SRE.patterns,
                          system_tables=SRE.system_tables)
# Viewer and Compliance Officer run no queries (compliance reads go through their own audited services).
BY_ROLE = {roles.ANALYST: ANALYST, roles.SRE: SRE, roles.ADMINISTRATOR: ADMINISTRATOR}


def allow_list_for_roles(role_names: list[str], *, superuser: bool = False) -> AllowList | None:
    """The union of the allow-lists of these roles (a superuser counts as Administrator); None if no role may query."""
    names = [*role_names, roles.ADMINISTRATOR] if superuser else list(role_names)
    lists = [BY_ROLE[name] for name in roles.ROLES if name in names and name in BY_ROLE]
    if not lists:
        return None
    allow = lists[0]
    for other in lists[1:]:
        allow = allow.union(other)
    return allow


def allow_list_for_user(user) -> AllowList | None:
    """The allow-list of a portal user's roles; None for an inactive user or one whose roles may not query."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return None
    return allow_list_for_roles(roles.roles_of(user), superuser=user.is_superuser)
