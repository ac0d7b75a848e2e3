"""Realistic job completion records, for the demo feed of `make run` and for the benchmark."""

from __future__ import annotations

import json
import random
import time
import uuid

from django.conf import settings

from apps.stream import client as streams

QUEUES = {
    # queue: (share of traffic, failure rate, typical payload builder name)
    "emails": (0.35, 0.03, "email"),
    "billing": (0.15, 0.05, "invoice"),
    "webhooks": (0.25, 0.08, "webhook"),
    "reports": (0.10, 0.04, "report"),
    "thumbnails": (0.15, 0.02, "image"),
}
ERRORS = [
    ("SMTPRecipientsRefused", "550 5.1.1 <{email}>: Recipient address rejected: User unknown"),
    ("TimeoutError", "POST https://hooks.example.com/v1/events timed out after 30.0s"),
    ("CardDeclined", "card 4111 1111 1111 1111 declined by issuer (insufficient funds) for customer {email}"),
    ("ConnectionResetError", "[Errno 104] Connection reset by peer while talking to 10.20.3.{octet}:5432"),
    ("ValueError", "invalid literal for int() with base 10: 'N/A' in row 1832"),
]
FIRST = ["ada", "grace", "alan", "edsger", "barbara", "donald", "margaret", "ken", "radia", "linus"]
DOMAINS = ["example.com", "mail.example.org", "corp.example.net"]


def _email(rng: random.Random) -> str:
    return f"{rng.choice(FIRST)}.{rng.randint(1, 999)}@{rng.choice(DOMAINS)}"


def _payload(kind: str, rng: random.Random) -> dict:
    if kind == "email":
        return {"to": _email(rng), "template": rng.choice(["welcome", "reset", "digest"]),
                "locale": rng.choice(["en", "de", "fr"]), "vars": {"name": rng.choice(FIRST).title()}}
    if kind == "invoice":
        return {"invoice_id": f"INV-{rng.randint(100000, 999999)}", "amount_cents": rng.randint(100, 500000),
                "currency": rng.choice(["EUR", "USD", "GBP"]), "customer": {"email": _email(rng),
                "phone": f"+44 20 7946 {rng.randint(1000, 9999)}"}, "lines": [
                    {"sku": f"SKU-{rng.randint(1, 500)}", "qty": rng.randint(1, 5)} for _ in range(rng.randint(1, 6))]}
    if kind == "webhook":
        return {"url": f"https://hooks.example.com/{uuid.UUID(int=rng.getrandbits(128)).hex[:12]}",
                "event": rng.choice(["order.created", "order.paid", "user.signup"]),
                "attempt": rng.randint(1, 3), "body": {"id": rng.randint(1, 10**9), "ok": rng.random() > 0.5}}
    if kind == "report":
        return {"report": rng.choice(["daily-sales", "churn", "inventory"]), "from": "2026-11-01",
                "to": "2026-11-30", "filters": {"region": rng.choice(["eu", "us", "apac"])}, "rows": rng.randint(10, 10**6)}
    return {"image": f"s3://uploads/{rng.getrandbits(64):016x}.jpg", "sizes": [64, 256, 1024][: rng.randint(1, 3)]}


def generate(n: int, *, seed: int | None = None, now_ms: int | None = None, spread_ms: int = 3_600_000) -> list[dict[bytes, bytes]]:
    """n stream entries as producers send them (fields as bytes), times within spread_ms before now."""
    rng = random.Random(seed)
    now_ms = now_ms or int(time.time() * 1000)
    names = list(QUEUES)
    weights = [QUEUES[q][0] for q in names]
    workers = [f"worker-{i:02d}" for i in range(12)]
    entries = []
    for _ in range(n):
        queue = rng.choices(names, weights)[0]
        _, failure_rate, kind = QUEUES[queue]
        enqueued = now_ms - rng.randint(0, spread_ms)
        started = enqueued + rng.randint(5, 5000)
        ended = started + int(rng.expovariate(1 / 800)) + 1
        failed = rng.random() < failure_rate
        fields = {
            "job_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "queue": queue,
            "outcome": rng.choice(["failed", "failed", "timeout", "dead"]) if failed else "success",
            "enqueue_time": str(enqueued),
            "start_time": str(started),
            "end_time": str(ended),
            "priority": str(rng.choice([0, 0, 0, 5, 10])),
            "retries": str(rng.choice([0, 0, 0, 0, 1, 2]) if not failed else rng.randint(0, 5)),
            "worker_id": rng.choice(workers),
            "worker_version": rng.choice(["2026.11.2", "2026.11.3"]),
            "tenant_id": f"tenant-{rng.randint(1, 40)}",
            "trace_id": f"{rng.getrandbits(128):032x}",
            "span_id": f"{rng.getrandbits(64):016x}",
            "payload": json.dumps(_payload(kind, rng), separators=(",", ":")),
            "tags": json.dumps({"region": rng.choice(["eu-west-1", "us-east-1"]), "env": "demo"}),
            "schema_version": "1",
        }
        if failed:
            error_type, template = rng.choice(ERRORS)
            fields["error_type"] = error_type
            fields["error_msg"] = template.format(email=_email(rng), octet=rng.randint(1, 254))
        entries.append({k.encode(): v.encode() for k, v in fields.items()})
    return entries


def feed(*, rate: float, count: int | None = None) -> int:
    """Append demo jobs at about `rate` per second until count is reached or interrupted."""
    r = streams.connection()
    sent = 0
    interval = 1.0 / rate if rate > 0 else 1.0
    try:
        while count is None or sent < count:
            burst = max(1, int(rate)) if rate >= 1 else 1
            pipe = r.pipeline(transaction=False)
            for fields in generate(burst, spread_ms=60_000):
                pipe.xadd(settings.ARCHIVE_STREAM, fields)
            pipe.execute()
            sent += burst
            time.sleep(interval * burst)
    except KeyboardInterrupt:
        pass
    return sent
