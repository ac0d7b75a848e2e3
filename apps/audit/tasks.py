"""Audit tasks: they need PostgreSQL and S3 only, never the warehouse, so they run on the default queue."""

from celery import shared_task

from apps.accounts.actors import Actor
from apps.audit import services


# Not retried: the next hour's digest covers everything this one would have; a repeat after a
# crash would only add a digest. Expires before the next one is due.
@shared_task(acks_late=True, expires=3000)
def anchor_chain_head() -> dict:
    """Beat runs this hourly: a digest of the chain head into the locked audit bucket."""
    return services.audit_anchor(actor=Actor.system("beat")).as_dict()


@shared_task(acks_late=True, expires=3 * 3600)
def verify_chain() -> dict:
    """Beat runs this daily: the whole chain and its digests verified, recorded as `audit.verified`
    (the audit-chain alert and `archive_audit_chain_verified` read that event)."""
    return services.audit_verify(actor=Actor.system("beat")).as_dict()
