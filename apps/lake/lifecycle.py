"""The bucket's lifecycle rules: what the portal would set, what is set, and applying it safely.

Iceberg references its data and metadata files by key until a snapshot expiry drops them, so no
rule here expires current objects under the Iceberg warehouse: that would corrupt the table.
What is safe to expire: incomplete multipart uploads, noncurrent versions (only a versioned
bucket has them; files deleted by erasure linger there until they expire), and a scratch prefix
for exports and query results. Cold data files may move to an instantly readable colder class
where the server supports transitions (AWS S3 does; SeaweedFS answers NotImplemented).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from botocore.exceptions import ClientError
from django.conf import settings

from apps.lake import s3

RULE_PREFIX = "archive-portal-"
# Readable in place; GLACIER (Flexible Retrieval) and DEEP_ARCHIVE need a restore before every
# read, so ClickHouse, pyiceberg and erasure would fail on transitioned files.
READABLE_COLD_CLASSES = ("GLACIER_IR", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING")


class LifecycleError(RuntimeError):
    """The server refused the rules, or the configuration would endanger the table."""


@dataclass(frozen=True)
class PlannedRule:
    rule: dict
    # A refused optional rule is reported and the others are applied anyway.
    optional: bool = False


@dataclass
class Plan:
    rules: list[PlannedRule]
    notes: list[str] = field(default_factory=list)


@dataclass
class ApplyResult:
    applied: list[dict]
    kept: list[dict]
    refused: list[tuple[dict, str]]
    notes: list[str]


def _warehouse_prefix() -> str:
    """Key prefix of every Iceberg table in the bucket (`iceberg/`)."""
    from apps.lake.catalog import CatalogTarget

    warehouse = CatalogTarget.from_settings().warehouse
    return warehouse.removeprefix("s3://").partition("/")[2].rstrip("/") + "/"


def _table_data_prefix() -> tuple[str | None, str]:
    """(`<table key>/data/`, note): where the table's data files are, if the table is in this bucket."""
    from apps.lake.table import load_table

    try:
        location = load_table().location()
    except Exception as exc:  # no table yet, or the catalog is unreachable: plan the rest
        return None, f"the Iceberg table could not be loaded ({type(exc).__name__}); run `archive migrate` first"
    bucket, _, key = location.removeprefix("s3://").partition("/")
    if bucket != settings.S3_BUCKET:
        return None, f"the Iceberg table lives in bucket {bucket!r}, not {settings.S3_BUCKET!r}"
    return f"{key.rstrip('/')}/data/", ""


def _overlaps(a: str, b: str) -> bool:
    return a.startswith(b) or b.startswith(a)


def plan() -> Plan:
    """The portal's rules from settings; refuses a configuration that would expire live table files."""
    rules: list[PlannedRule] = []
    notes: list[str] = []
    if settings.S3_LIFECYCLE_ABORT_MULTIPART_DAYS > 0:
        rules.append(PlannedRule({
            "ID": f"{RULE_PREFIX}abort-incomplete-uploads",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": settings.S3_LIFECYCLE_ABORT_MULTIPART_DAYS},
        }))
    if settings.S3_LIFECYCLE_NONCURRENT_DAYS > 0:
        rules.append(PlannedRule({
            "ID": f"{RULE_PREFIX}noncurrent-versions",
            "Status": "Enabled",
            "Filter": {"Prefix": ""},
            "NoncurrentVersionExpiration": {"NoncurrentDays": settings.S3_LIFECYCLE_NONCURRENT_DAYS},
        }))
    if settings.S3_LIFECYCLE_RESULTS_DAYS > 0:
        prefix = settings.S3_LIFECYCLE_RESULTS_PREFIX
        protected = _warehouse_prefix()
        if not prefix.strip("/"):
            raise LifecycleError("S3_LIFECYCLE_RESULTS_PREFIX is empty: expiring the whole bucket would delete the "
                                 "Iceberg table's files; set a prefix such as results/ or S3_LIFECYCLE_RESULTS_DAYS=0")
        if _overlaps(prefix, protected):
            raise LifecycleError(f"S3_LIFECYCLE_RESULTS_PREFIX {prefix!r} overlaps the Iceberg warehouse "
                                 f"{protected!r}; expiring it would delete files the table still references")
        rules.append(PlannedRule({
            "ID": f"{RULE_PREFIX}expire-results",
            "Status": "Enabled",
            "Filter": {"Prefix": prefix},
            "Expiration": {"Days": settings.S3_LIFECYCLE_RESULTS_DAYS},
        }))
    if settings.S3_LIFECYCLE_COLD_TRANSITION_DAYS > 0:
        storage_class = settings.S3_LIFECYCLE_COLD_STORAGE_CLASS.upper()
        if storage_class not in READABLE_COLD_CLASSES:
            raise LifecycleError(
                f"S3_LIFECYCLE_COLD_STORAGE_CLASS={storage_class} needs a restore before each read, which would "
                f"break queries and erasure on the cold table; use one of {', '.join(READABLE_COLD_CLASSES)}"
            )
        data_prefix, note = _table_data_prefix()
        if data_prefix is None:
            notes.append(f"no storage-class transition planned: {note}")
        else:
            rules.append(PlannedRule({
                "ID": f"{RULE_PREFIX}cold-data-{storage_class.lower().replace('_', '-')}",
                "Status": "Enabled",
                "Filter": {"Prefix": data_prefix},
                "Transitions": [{"Days": settings.S3_LIFECYCLE_COLD_TRANSITION_DAYS, "StorageClass": storage_class}],
            }, optional=True))
    return Plan(rules, notes)


def bucket() -> str:
    return s3.S3Config.from_settings().bucket


def foreign_rules(rules: list[dict]) -> list[dict]:
    """Rules someone else set (not `archive-portal-*`): apply keeps them as they are."""
    return [r for r in rules if not str(r.get("ID", "")).startswith(RULE_PREFIX)]


def current_rules() -> list[dict]:
    """The bucket's rules as the server reports them; [] when it has none."""
    cfg = s3.S3Config.from_settings()
    try:
        return s3.client(cfg).get_bucket_lifecycle_configuration(Bucket=cfg.bucket).get("Rules", [])
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "NoSuchLifecycleConfiguration":
            return []
        raise LifecycleError(f"cannot read the lifecycle of bucket {cfg.bucket}: {_reason(exc)}") from None


def _prefix(rule: dict) -> str:
    filt = rule.get("Filter") or {}
    return filt.get("Prefix", filt.get("And", {}).get("Prefix", rule.get("Prefix", ""))) or ""


def describe(rule: dict) -> str:
    """One line a person can check: scope, then actions."""
    prefix = _prefix(rule)
    scope = f"objects under {prefix}" if prefix else "the whole bucket"
    actions = []
    expiration = rule.get("Expiration") or {}
    if "Days" in expiration:
        actions.append(f"delete current objects {expiration['Days']} days after creation")
    if "Date" in expiration:
        actions.append(f"delete current objects on {expiration['Date']}")
    if expiration.get("ExpiredObjectDeleteMarker"):
        actions.append("remove expired delete markers")
    if "NoncurrentVersionExpiration" in rule:
        actions.append(f"delete old versions {rule['NoncurrentVersionExpiration'].get('NoncurrentDays')} days "
                       "after they stop being current")
    if "AbortIncompleteMultipartUpload" in rule:
        actions.append(f"abort incomplete multipart uploads after "
                       f"{rule['AbortIncompleteMultipartUpload'].get('DaysAfterInitiation')} days")
    for transition in rule.get("Transitions") or []:
        when = f"{transition['Days']} days after creation" if "Days" in transition else f"on {transition.get('Date')}"
        actions.append(f"move to {transition.get('StorageClass')} {when}")
    for transition in rule.get("NoncurrentVersionTransitions") or []:
        actions.append(f"move old versions to {transition.get('StorageClass')} "
                       f"{transition.get('NoncurrentDays')} days after they stop being current")
    status = "" if rule.get("Status", "Enabled") == "Enabled" else " (disabled)"
    return f"{rule.get('ID', '(no id)')}{status}: {scope}: {'; '.join(actions) or 'no action'}"


def dangers(rules: list[dict]) -> list[str]:
    """Rules (ours or anyone's) that would delete current objects the Iceberg table references."""
    protected = _warehouse_prefix()
    found = []
    for rule in rules:
        expiration = rule.get("Expiration") or {}
        if rule.get("Status", "Enabled") == "Enabled" and ("Days" in expiration or "Date" in expiration) \
                and _overlaps(_prefix(rule), protected):
            found.append(f"rule {rule.get('ID', '(no id)')} deletes current objects under {_prefix(rule) or '/'}, "
                         f"which includes the Iceberg table's live files under {protected}: remove it or the cold "
                         "table will lose data files it still references")
    return found


def _reason(exc: ClientError) -> str:
    error = exc.response.get("Error", {})
    return f"{error.get('Code', 'error')}: {error.get('Message', str(exc))}"


def _put(rules: list[dict]) -> None:
    cfg = s3.S3Config.from_settings()
    if rules:
        s3.client(cfg).put_bucket_lifecycle_configuration(Bucket=cfg.bucket, LifecycleConfiguration={"Rules": rules})
    else:  # S3 refuses an empty rule list; no configuration is how "no rules" is spelled
        s3.client(cfg).delete_bucket_lifecycle(Bucket=cfg.bucket)


def lifecycle_apply() -> ApplyResult:
    """Replace the portal's rules (ID prefix `archive-portal-`), keep everyone else's.

    S3 takes the whole configuration at once, so a rule the server refuses (a storage-class
    transition on SeaweedFS) is dropped and the rest are put again; the refusal is reported.
    """
    planned = plan()
    kept = foreign_rules(current_rules())
    wanted = [p.rule for p in planned.rules]
    try:
        _put(kept + wanted)
        return ApplyResult(applied=wanted, kept=kept, refused=[], notes=planned.notes)
    except ClientError as exc:
        optional = [p.rule for p in planned.rules if p.optional]
        if not optional:
            raise LifecycleError(f"the server refused the lifecycle rules: {_reason(exc)}") from None
        first_refusal = _reason(exc)
        unsupported = exc.response.get("Error", {}).get("Code") == "NotImplemented"
    required = [p.rule for p in planned.rules if not p.optional]
    try:
        _put(kept + required)
    except ClientError as exc:
        raise LifecycleError(f"the server refused the lifecycle rules: {_reason(exc)}") from None
    if unsupported:
        why = (f"the server refused the storage-class transition ({first_refusal}). This S3 server does not "
               "implement transitions (SeaweedFS does not; AWS S3 does), so cold data stays in its current "
               "storage class; the other rules were applied.")
    else:
        why = (f"the server refused the storage-class transition ({first_refusal}); check "
               "S3_LIFECYCLE_COLD_STORAGE_CLASS and S3_LIFECYCLE_COLD_TRANSITION_DAYS. The other rules were applied.")
    return ApplyResult(applied=required, kept=kept, refused=[(rule, why) for rule in optional], notes=planned.notes)
