"""TEMPORARY stand-in (replaced by the templates branch)."""
from __future__ import annotations
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


class TemplateError(ValueError):
    pass


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    label: str
    help: str
    default: str | None = None
    required: bool = False


@dataclass(frozen=True)
class Template:
    name: str
    title: str
    description: str
    params: tuple
    sql: str

    def bind(self, raw):
        out = {}
        for p in self.params:
            v = raw.get(p.name, p.default)
            if v is None:
                if p.required:
                    raise TemplateError(f"{self.name} needs --param {p.name}=...")
                if p.type == "datetime":
                    v = (datetime.now(timezone.utc) - timedelta(days=7)).isoformat()
                else:
                    continue
            if p.type == "datetime":
                v = datetime.fromisoformat(str(v))
            out[p.name] = v
        unknown = set(raw) - {p.name for p in self.params}
        if unknown:
            raise TemplateError(f"unknown parameter {sorted(unknown)}")
        return out

    def prepare(self, bound):
        return bound


TEMPLATES = {
    "queue_health": Template("queue_health", "Queue health", "jobs per queue and outcome", (
        Param("from", "datetime", "From", "start"),), 
        "SELECT queue, outcome, count() AS jobs FROM jobs_all WHERE enqueue_time >= {from:DateTime64(6, 'UTC')} "
        "GROUP BY queue, outcome ORDER BY queue, outcome"),
}
