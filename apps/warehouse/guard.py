"""The query guard: analysts' SQL is parsed as ClickHouse SQL and refused unless it is one SELECT over allowed tables.

The guard only inspects; the text that runs is the user's, exactly as written. In the embedded
engine (chDB runs as clickhouse-local) `readonly=1` and `user_files_path` do not stop `file()`
or `INTO OUTFILE`, so this is the real defence there (docs/operations.md, "What a query may do").
What the guard cannot parse is refused: ClickHouse must never run anything the guard did not see.
Which tables a query may read depends on the user's roles (apps.warehouse.allowlists).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import sqlglot
from django.conf import settings
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from apps.warehouse.allowlists import (
    ANALYST, ARCHIVE_TABLES, INTERNAL_TABLES, REFUSED_SYSTEM_TABLES, REHYDRATED, SYSTEM_TABLES, AllowList,
)

__all__ = ["ARCHIVE_TABLES", "Checked", "QueryRejected", "check_query", "inspect_query"]

REHYDRATED_TABLE = re.compile(rf"^{REHYDRATED}$")
_DIALECT = "clickhouse"
_NO_QUERIES = "refused: running a query — your role may not run queries (Analyst, SRE and Administrator may)"
# Characters that ClickHouse reads as whitespace (U+00A0, U+200B, U+2028, U+3000, U+FEFF...) or
# that nobody sees: the guard would read another text than the engine, or than the person who
# reviews it. Tab, line feed and carriage return are the only control characters allowed.
_INVISIBLE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zs", "Zl", "Zp"}
_ALLOWED_CONTROLS = {"\t", "\n", "\r", " "}
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
    "getserversetting": "the server's configuration is not for queries",
    "generateserialid": "it writes a counter to Keeper",
}
_REFUSED_PREFIXES = {
    "dict": "it reads a dictionary, whose source may be a file, a URL or another database",
    "joinget": "it reads a Join table by name, outside the archive tables",
}
# in(x, t), notIn(x, t), globalNullIn(x, t)...: the function forms of IN read a table named by an argument.
_IN_FUNCTION = re.compile(r"^(global)?(not)?(null)?in(ignoreset)?$")


class QueryRejected(ValueError):
    """The statement is not one SELECT over the allowed tables; the message says what was refused and why.

    Always one line: control characters from the user's text (a quoted name, say) are escaped.
    """

    def __init__(self, message: str):
        super().__init__(re.sub(r"[\x00-\x1f\x7f]", lambda m: f"\\x{ord(m.group()):02x}", message))


@dataclass(frozen=True)
class Checked:
    """What an admitted query reads: its tables (`system.` prefixed for system tables), its {name:Type} placeholders."""

    tables: list[str]
    parameters: list[str]


def check_query(sql: str, allow: AllowList | None = ANALYST) -> list[str]:
    """Raise QueryRejected unless `sql` is exactly one SELECT that reads only tables of `allow`.

    Returns the sorted names of the tables it reads, for the audit record. `allow=None` (a user
    whose roles may not query) refuses every query.
    """
    return inspect_query(sql, allow).tables


def inspect_query(sql: str, allow: AllowList | None = ANALYST) -> Checked:
    """check_query, also returning the names of the query's {name:Type} placeholders."""
    if allow is None or not allow.may_query:
        raise QueryRejected(_NO_QUERIES)
    if not isinstance(sql, str):
        raise QueryRejected(f"refused: the query is not text ({type(sql).__name__}) — a query is SQL text")
    if not sql.strip():
        raise QueryRejected("refused: the query is empty — write one SELECT")
    try:
        return _inspect(sql, allow)
    except QueryRejected:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever the parser trips on, the answer is a refusal
        raise QueryRejected(f"refused: the guard cannot read this query ({type(exc).__name__}) — "
                            "only SQL it can read is run") from None


def _inspect(sql: str, allow: AllowList) -> Checked:
    _check_characters(sql)
    # A trailing `;` (and a comment after it) parses as an empty statement; ClickHouse ignores it too.
    statements = [s for s in _parse(sql) if s is not None and not isinstance(s, exp.Semicolon)]
    if not statements:
        raise QueryRejected("refused: the query is empty — write one SELECT")
    if len(statements) > 1:
        raise QueryRejected(f"refused: more than one statement — {_ONLY_SELECT}")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        raise QueryRejected(f"refused: {_statement_kind(statement)} — {_ONLY_SELECT}")
    walk = _Walk(allow)
    for node in statement.walk():
        walk.check(node)
    return Checked(tables=sorted(walk.tables), parameters=sorted(walk.parameters))


def _check_characters(sql: str) -> None:
    for index, char in enumerate(sql):
        if char not in _ALLOWED_CONTROLS and unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            line = sql.count("\n", 0, index) + 1
            column = index - (sql.rfind("\n", 0, index) + 1) + 1
            name = unicodedata.name(char, "unnamed")
            raise QueryRejected(
                f"refused: invisible character U+{ord(char):04X} ({name}) at line {line}, column {column} — "
                "ClickHouse may read it as a space where the guard and a reader do not; "
                "in a string literal write it as an escape (\\xHH)")


def _parse(sql: str) -> list[exp.Expression | None]:
    try:
        return sqlglot.parse(sql, read=_DIALECT)
    except SqlglotError as exc:
        if _writes_outfile(sql):
            raise QueryRejected("refused: INTO OUTFILE — a query never writes files on the warehouse machine") from None
        if (first := _first_word(sql)) and first not in ("SELECT", "WITH", "("):
            raise QueryRejected(f"refused: {first} — {_ONLY_SELECT}") from None
        raise QueryRejected(f"refused: the guard cannot parse this as ClickHouse SQL ({_describe(exc)}) — "
                            "only SQL it can read is run") from None


def _first_word(sql: str) -> str:
    """The statement's first token (KILL, CHECK, ...), to name a statement sqlglot cannot parse."""
    try:
        tokens = sqlglot.Dialect.get_or_raise(_DIALECT).tokenize(sql)
    except SqlglotError:
        return ""
    text = tokens[0].text.upper() if tokens else ""
    return text if re.fullmatch(r"[A-Z]{2,20}|\(", text) else ""


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


class _Walk:
    """Checks each node of one statement against one allow-list, and notes the tables it reads."""

    def __init__(self, allow: AllowList):
        self.allow = allow
        self.tables: set[str] = set()
        self.parameters: set[str] = set()

    def check(self, node: exp.Expression) -> None:
        # Only on queries and tables: a "format" argument elsewhere is a function's (formatDateTime, CAST ... FORMAT).
        if isinstance(node, (exp.Query, exp.Table)):
            _check_clauses(node)
        if isinstance(node, exp.Table):
            self._check_table(node)
        elif isinstance(node, (exp.Values, exp.Unnest, exp.Lateral)):
            raise QueryRejected(f"refused: table function {node.key.upper()} — {self.allow.describe()}")
        elif isinstance(node, exp.In):
            self._check_in(node)
        elif isinstance(node, exp.Placeholder):
            self._check_placeholder(node)
        if isinstance(node, exp.Func):
            _check_function(node)

    def _check_table(self, node: exp.Table) -> None:
        source = node.this
        if isinstance(source, exp.Func):
            raise QueryRejected(f"refused: table function {_function_name(source)}() — {self.allow.describe()}")
        if isinstance(source, exp.Placeholder):
            raise QueryRejected(f"refused: table {source.sql(_DIALECT)} — a parameter binds a value, never a table")
        if not isinstance(source, exp.Identifier):
            raise QueryRejected(f"refused: table source {node.sql(_DIALECT)} — {self.allow.describe()}")
        alias = node.args.get("alias")
        if isinstance(alias, exp.TableAlias) and alias.columns and not alias.name:
            # sqlglot reads a few calls (`dictionary('d')`) as a table with column aliases.
            raise QueryRejected(f"refused: table function {node.name}() — {self.allow.describe()}")
        self._check_table_name(node, name=node.name, database=node.db, catalog=node.catalog)

    def _check_in(self, node: exp.In) -> None:
        """`x IN t` and `x IN (t)` read table t when t is a bare name, so that name must be an allowed table."""
        right = node.args.get("field")
        if right is None and len(node.expressions) == 1:
            right = node.expressions[0]
        while isinstance(right, exp.Paren):
            right = right.this
        if isinstance(right, exp.Column) and isinstance(right.this, exp.Identifier):
            self._check_table_name(node, name=right.name, database=right.table, catalog=right.db or right.catalog)

    def _check_placeholder(self, node: exp.Placeholder) -> None:
        """{name:Type} is bound by the engine as a value of Type; {name:Identifier} would bind a table's name."""
        kind = node.args.get("kind")
        shown = node.sql(_DIALECT)
        if node.name in ("", "?") or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", node.name):
            raise QueryRejected(f"refused: placeholder {shown} — write parameters as {{name:Type}}")
        if not isinstance(kind, exp.DataType) or "identifier" in kind.sql(_DIALECT).lower():
            raise QueryRejected(f"refused: parameter {shown} — a parameter binds a value, never a table or column name")
        self.parameters.add(node.name)

    def _check_table_name(self, node: exp.Expression, *, name: str, database: str, catalog: str) -> None:
        shown = ".".join(part for part in (catalog, database, name) if part)
        refused = f"refused: table {shown} — {self.allow.describe()}"
        if catalog:
            raise QueryRejected(refused)
        if not database and name in _visible_ctes(node):
            return
        # Exact case: ClickHouse names are case-sensitive, so SYSTEM.parts or JOBS_ARCHIVE is something else.
        if database == "system":
            if self.allow.allows_system(name):
                self.tables.add(f"system.{name}")
                return
            if name in REFUSED_SYSTEM_TABLES:
                raise QueryRejected(f"{refused}; system.{name} is refused to every role: {REFUSED_SYSTEM_TABLES[name]}")
            if name in SYSTEM_TABLES:
                raise QueryRejected(f"{refused}; system tables are for the SRE and Administrator roles")
            raise QueryRejected(refused)
        if database and database != settings.CLICKHOUSE_DATABASE:
            raise QueryRejected(refused)
        if name in INTERNAL_TABLES:
            raise QueryRejected(f"{refused}; {name} is the portal's own bookkeeping ({INTERNAL_TABLES[name]}), "
                                "which no role reads")
        if not self.allow.allows(name):
            raise QueryRejected(refused)
        self.tables.add(name)


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
