"""Rehydration reads: recent requests, and finding one by id, short id or table name."""

from __future__ import annotations

import uuid

from django.db.models import QuerySet

from apps.rehydration.models import TABLE_PREFIX, Rehydration


class RehydrationNotFound(LookupError):
    pass


def rehydration_list(*, limit: int = 50) -> QuerySet[Rehydration]:
    return Rehydration.objects.select_related("requested_by").order_by("-created_at")[:limit]


def rehydration_find(*, reference: str) -> Rehydration:
    """`reference`: the full id, its first 12 hex digits (as `--list` shows), or the table name."""
    text = reference.strip().lower().removeprefix(TABLE_PREFIX)
    try:
        return Rehydration.objects.get(pk=uuid.UUID(text))
    except ValueError:
        pass
    except Rehydration.DoesNotExist:
        raise RehydrationNotFound(f"no rehydration {reference!r}") from None
    if len(text) == 12 and all(c in "0123456789abcdef" for c in text):
        found = Rehydration.objects.filter(table_name=f"{TABLE_PREFIX}{text}").first()
        if found is not None:
            return found
    raise RehydrationNotFound(f"no rehydration {reference!r}; `archive rehydrate --list` shows the ids")
