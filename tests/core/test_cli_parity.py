"""CLI parity with the REST API: every operation in the API's OpenAPI schema has a command in the table
of docs/cli.md, and every command that table names exists with the flags it shows."""

from __future__ import annotations

import argparse
import re

import pytest

from tests.conftest import ROOT

TABLE_ROW = re.compile(r"^\|\s*`(GET|POST|PUT|PATCH|DELETE) (/api/v1/\S*)`\s*\|\s*`(archive [^`]+)`\s*\|\s*$")
METHODS = ("get", "post", "put", "patch", "delete")


def _mapping() -> dict[tuple[str, str], str]:
    """(method, path) -> command, as the table in docs/cli.md says."""
    rows = {}
    for line in (ROOT / "docs" / "cli.md").read_text().splitlines():
        found = TABLE_ROW.match(line)
        if found:
            method, path, command = found.groups()
            assert (method, path) not in rows, f"{method} {path} is in docs/cli.md twice"
            rows[(method, path)] = command
    return rows


def _operations() -> set[tuple[str, str]]:
    """Every v1 operation, from drf-spectacular's generator (the schema /api/schema/ serves)."""
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    return {(method.upper(), path) for path, operations in schema["paths"].items() if path.startswith("/api/v1/")
            for method in operations if method in METHODS}


def _archive_parser() -> argparse.ArgumentParser:
    from apps.core.management.commands.archive import Command

    return Command().create_parser("manage.py", "archive")


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def _problems_with(command: str) -> list[str]:
    """What is wrong with a command line of the table: an unknown subcommand or flag."""
    parser = _archive_parser()
    words = command.split()[1:]
    path = ["archive"]
    problems = []
    descended = False
    for word in words:
        children = _subparsers(parser)
        if children and not word.startswith("-"):
            if word not in children:
                return [f"`{' '.join(path)}` has no subcommand {word!r}"]
            parser, descended = children[word], True
            path.append(word)
        elif word.startswith("--"):
            known = {flag for action in parser._actions for flag in action.option_strings}
            if word.split("=")[0] not in known:
                problems.append(f"`{' '.join(path)}` has no flag {word}")
    if not descended:
        problems.append("no subcommand named")
    if _subparsers(parser):
        problems.append(f"`{' '.join(path)}` needs an action ({', '.join(_subparsers(parser))})")
    return problems


@pytest.mark.django_db
def test_every_api_operation_has_a_command_in_docs_cli_md():
    operations = _operations()
    assert len(operations) >= 40  # the schema was read, not an empty one
    missing = sorted(operations - set(_mapping()))
    assert not missing, "API operations with no command in docs/cli.md's table: " + ", ".join(
        f"{m} {p}" for m, p in missing)


@pytest.mark.django_db
def test_the_table_names_no_operation_the_api_does_not_have():
    stale = sorted(set(_mapping()) - _operations())
    assert not stale, "docs/cli.md maps operations the API does not have: " + ", ".join(f"{m} {p}" for m, p in stale)


def test_every_command_in_the_table_exists_with_its_flags():
    mapping = _mapping()
    problems = {command: found for command in mapping.values() if (found := _problems_with(command))}
    assert not problems, problems


def test_the_check_itself_catches_an_unknown_subcommand_and_flag():
    assert _problems_with("archive hold show 1 --format json") == []
    assert _problems_with("archive hold inspect 1") == ["`archive hold` has no subcommand 'inspect'"]
    assert _problems_with("archive hold show 1 --colour red") == ["`archive hold show` has no flag --colour"]
    assert _problems_with("archive hold") == ["`archive hold` needs an action (add, release, show, list)"]


NEW = ("health", "restores", "query-run", "dead-letter", "hold show", "subject list", "subject show",
       "subject bundle")
NEW_FLAGS = ("--quiet", "--latest", "--show", "--state", "--hash", "--file-format", "--json")


def test_every_subcommand_and_every_new_flag_has_a_help_text():
    """`archive ... --help` explains every subcommand, every argument of the new ones, and every flag added
    to existing ones (argparse shows nothing where help is missing)."""
    undocumented = []

    def walk(parser, path: str) -> None:
        new = any(f"{path} ".startswith(f"archive {name} ") for name in NEW)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                undocumented.extend(f"{path} {c.dest}" for c in action._choices_actions if not c.help)
                for name, child in action.choices.items():
                    walk(child, f"{path} {name}")
            elif action.help is None and path != "archive" and (
                    new or set(action.option_strings) & set(NEW_FLAGS)):
                undocumented.append(f"{path} {'/'.join(action.option_strings) or action.dest}")

    walk(_archive_parser(), "archive")
    assert not undocumented, undocumented
