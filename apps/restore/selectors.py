"""Reads for restores: one as plain data (the CLI, the page's status poll), the ones a user may see."""

from __future__ import annotations

from apps.restore.models import Restore


def restore_as_dict(restore: Restore) -> dict:
    return {
        "id": str(restore.pk), "state": restore.state, "actor": restore.actor, "via": restore.via,
        "adapter": restore.adapter, "target": restore.target or None, "dry_run": restore.dry_run,
        "force": restore.force, "expected_count": restore.expected_count, "selection": restore.selection,
        "selected": restore.selected, "restored": restore.restored, "refused": restore.refused_total,
        "reasons": restore.refused, "lines": restore.lines, "error": restore.error or None,
        "submitted_at": restore.submitted_at.isoformat() if restore.submitted_at else None,
        "finished_at": restore.finished_at.isoformat() if restore.finished_at else None,
    }


def recent(limit: int = 50):
    return Restore.objects.order_by("-submitted_at")[:limit]
