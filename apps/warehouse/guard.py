"""The query guard: analysts' SQL is parsed as ClickHouse SQL and refused unless it is one SELECT over the archive.

The guard only inspects; the text that runs is the user's, exactly as written. In the embedded
engine (chDB runs as clickhouse-local) `readonly=1` and `user_files_path` do not stop `file()`
or `INTO OUTFILE`, so this is the real defence there (docs/operations.md, "What a query may do").
What the guard cannot parse is refused: ClickHouse must never run anything the guard did not see.
"""

from __future__ import annotations

import re

import sqlglot
from django.conf import settings
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

ARCHIVE_TABLES = ("jobs_all", "jobs_archive", "jobs_cold")
REHYDRATED_TABLE = re.compile(r"^rehydrated_[0-9a-f]{12}$")
_DIALECT = "clickhouse"
_ONLY_ARCHIVE = "queries read only the archive tables (jobs_all, jobs_archive, jobs_cold, rehydrated_*)"
_ONLY_SELECT = "only one SELECT is allowed (no SHOW, DESCRIBE, EXPLAIN, SET, SYSTEM, writes or DDL)"

# Scalar functions that reach outside the archive tables, by lower-case name, with the reason.
_REFUSED_FUNCTIONS = {
    "file": "it reads files of the warehouse machine",
    "catboostevaluate": "it loads a model file from the warehouse machine",
    "modelevaluate": "it loads a model file from the warehouse machine",
    "naivebayesclassifier": "it loads a model file from the warehouse machine",
    "hascolumnintable": "it looks into any table by name",
    "addresstoline": "it reads the engine's own binary",
    "addresstolinewithinlines": "it reads the engine's own binary",
    "addresstosymbol": "it reads the engine's own binary",
    "demangle": "it reads the engine's own binary",
    "showcertificate": "it reads the server's TLS certificate",
    "generateserialid": "it writes a counter to Keeper",
}
_REFUSED_PREFIXES = {
    "dict": "it reads a dictionary, whose source may be a file, a URL or another database",
    "joinget": "it reads a Join table by name, outside the archive tables",
}
# in(x, t), notIn(x, t), globalNullIn(x, t)...: the function forms of IN read a table named by an argument.
_IN_FUNCTION = re.compile(r"^(global)?(not)?(null)?in(ignoreset)?$")


class QueryRejected(ValueError):
    """The statement is not one SELECT over the archive tables; the message says what was refused and why."""


def check_query(sql: str) -> None:
    """Raise QueryRejected unless `sql` is exactly one SELECT that reads only the archive tables."""
    if not sql.strip():
        raise QueryRejected("refused: the query is empty")
    # A trailing `;` (and a comment after it) parses as an empty statement; ClickHouse ignores it too.
    statements = [s for s in _parse(sql) if s is not None and not isinstance(s, exp.Semicolon)]
    if not statements:
        raise QueryRejected("refused: the query is empty")
    if len(statements) > 1:
        raise QueryRejected(f"refused: more than one statement — {_ONLY_SELECT}")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise QueryRejected(f"refused: {_statement_kind(statement)} — {_ONLY_SELECT}")
    for node in statement.walk():
        _check_node(node)


def _parse(sql: str) -> list[exp.Expression | None]:
    try:
        return sqlglot.parse(sql, read=_DIALECT)
    except SqlglotError as exc:
        if _writes_outfile(sql):
            raise QueryRejected("refused: INTO OUTFILE — a query never writes files on the warehouse machine") from None
        raise QueryRejected(f"refused: the guard cannot parse this as ClickHouse SQL ({_describe(exc)}); "
                            "only SQL it can read is run") from None


def _writes_outfile(sql: str) -> bool:
    """INTO OUTFILE as tokens, so the words inside a string literal or a comment do not count."""
    try:
        words = [token.text.upper() for token in sqlglot.Dialect.get_or_raise(_DIALECT).tokenize(sql)]
    except SqlglotError:
        return False
    return any(a == "INTO" and b == "OUTFILE" for a, b in zip(words, words[1:]))


def _describe(exc: SqlglotError) -> str:
    if isinstance(exc, ParseError) and exc.errors:
        error = exc.errors[0]
        return f"{error.get('description')} at line {error.get('line')}, column {error.get('col')}"
    return " ".join(str(exc).split())[:200]


def _statement_kind(statement: exp.Expression) -> str:
    if isinstance(statement, exp.Command):
        return str(statement.this).upper()
    return statement.key.upper()


def _check_node(node: exp.Expression) -> None:
    # Only on queries and tables: a "format" argument elsewhere is a function's (formatDateTime, CAST ... FORMAT).
    if isinstance(node, (exp.Query, exp.Table)):
        _check_clauses(node)
    if isinstance(node, exp.Table):
        _check_table(node)
    elif isinstance(node, (exp.Values, exp.Unnest, exp.Lateral)):
        raise QueryRejected(f"refused: table function {node.key.upper()} — {_ONLY_ARCHIVE}")
    elif isinstance(node, exp.In):
        _check_in(node)
    if isinstance(node, exp.Func):
        _check_function(node)


def _check_clauses(node: exp.Expression) -> None:
    if node.args.get("settings"):
        raise QueryRejected("refused: SETTINGS clause — the portal sets a query's limits, a query cannot change them")
    if node.args.get("format"):
        raise QueryRejected("refused: FORMAT clause — the portal chooses the result format (--format)")
    if node.args.get("into"):
        raise QueryRejected("refused: SELECT ... INTO — a query never writes")


def _function_name(node: exp.Func) -> str:
    return node.name if isinstance(node, exp.Anonymous) else node.sql_name()


def _check_function(node: exp.Func) -> None:
    name = _function_name(node)
    lower = name.lower()
    reason = _REFUSED_FUNCTIONS.get(lower) or next(
        (why for prefix, why in _REFUSED_PREFIXES.items() if lower.startswith(prefix)), None)
    if reason is None and _IN_FUNCTION.match(lower):
        reason = "it names a table by its argument; write the IN operator (x IN (SELECT ...))"
    if reason:
        raise QueryRejected(f"refused: function {name}() — {reason}")


def _check_table(node: exp.Table) -> None:
    source = node.this
    if isinstance(source, exp.Func):
        raise QueryRejected(f"refused: table function {_function_name(source)}() — {_ONLY_ARCHIVE}")
    if not isinstance(source, exp.Identifier):
        raise QueryRejected(f"refused: table source {node.sql(_DIALECT)} — {_ONLY_ARCHIVE}")
    _check_table_name(node, name=node.name, database=node.db, catalog=node.catalog)


def _check_in(node: exp.In) -> None:
    """`x IN t` and `x IN (t)` read table t when t is a bare name, so that name must be an archive table."""
    right = node.args.get("field")
    if right is None and len(node.expressions) == 1:
        right = node.expressions[0]
    while isinstance(right, exp.Paren):
        right = right.this
    if isinstance(right, exp.Column) and isinstance(right.this, exp.Identifier):
        _check_table_name(node, name=right.name, database=right.table, catalog=right.db or right.catalog)


def _check_table_name(node: exp.Expression, *, name: str, database: str, catalog: str) -> None:
    shown = ".".join(part for part in (catalog, database, name) if part)
    if catalog:
        raise QueryRejected(f"refused: table {shown} — {_ONLY_ARCHIVE}")
    if not database and name in _visible_ctes(node):
        return
    if database and database != settings.CLICKHOUSE_DATABASE:
        raise QueryRejected(f"refused: table {shown} — {_ONLY_ARCHIVE}")
    # Exact case: ClickHouse names are case-sensitive, so JOBS_ARCHIVE is some other table.
    if name not in ARCHIVE_TABLES and not REHYDRATED_TABLE.match(name):
        raise QueryRejected(f"refused: table {shown} — {_ONLY_ARCHIVE}")


def _visible_ctes(node: exp.Expression) -> set[str]:
    """Names of the WITH ... AS (SELECT ...) tables that `node` can read, the way ClickHouse scopes them.

    A CTE is visible in its query and the queries nested in it. Inside a CTE's own definition
    only the CTEs before it count (and itself under WITH RECURSIVE): ClickHouse resolves
    `WITH t AS (SELECT * FROM t)` to the real table t, so treating that t as the CTE would let a
    query read any table. Scalar aliases (`WITH 1 AS t`, `WITH (SELECT 1) AS t`) are not tables:
    `FROM t` after them reads the real table t.
    """
    names: set[str] = set()
    child, parent = node, node.parent
    while parent is not None:
        if isinstance(parent, exp.With):
            index = next((i for i, cte in enumerate(parent.expressions) if cte is child), 0)
            visible = parent.expressions[:index] + ([child] if parent.args.get("recursive") else [])
        elif isinstance(parent.args.get("with_"), exp.With) and parent.args["with_"] is not child:
            visible = parent.args["with_"].expressions
        else:
            visible = []
        names.update(cte.alias for cte in visible if isinstance(cte, exp.CTE) and not cte.args.get("scalar"))
        child, parent = parent, parent.parent
    return names
