"""Which allow-list a query runs under: the actor's roles decide (apps.warehouse.allowlists).

A portal user gets the union of their roles' lists (a superuser the Administrator's); a role with
no list (Viewer, Compliance Officer) may not run queries. The command line without `--as` is the
operator, with the Administrator's list.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.accounts.actors import Actor
from apps.accounts.roles import ADMINISTRATOR, roles_of


class QueryRefused(ValueError):
    """The query, or this actor running it, is refused; the message says what and why in one line."""


@dataclass(frozen=True)
class Allowed:
    name: str
    guard: object  # the guard's AllowList

    def check(self, sql: str) -> list[str]:
        """The tables `sql` reads, or QueryRefused with the guard's reason."""
        from apps.warehouse.guard import QueryRejected, check_query

        try:
            tables = check_query(sql, allow=self.guard)
        except QueryRejected as exc:
            raise QueryRefused(str(exc)) from None
        return sorted(tables or [])


def allow_list_named(name: str) -> Allowed:
    """The list a run was submitted under, by its name (a role, or roles joined by `+`)."""
    from apps.warehouse import allowlists

    found = allowlists.allow_list_for_roles(name.split("+"))
    if found is None:
        raise QueryRefused(f"refused: no allow-list {name!r}")
    return Allowed(found.name, found)


def allow_list_for(actor: Actor) -> Allowed:
    from apps.warehouse import allowlists

    if actor.user_id is None:
        return allow_list_named(ADMINISTRATOR)
    user = actor.user
    if user is None or not user.is_active:
        raise QueryRefused(f"refused: {actor.label} is not an active portal user")
    roles = roles_of(user)
    found = allowlists.allow_list_for_roles(roles, superuser=user.is_superuser)
    if found is None:
        shown = ", ".join(roles) or "no role"
        raise QueryRefused(f"refused: {actor.label} ({shown}) may not run queries — only Analysts, SREs and "
                           "Administrators may")
    return Allowed(found.name, found)
