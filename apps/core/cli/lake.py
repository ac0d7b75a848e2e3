"""Cold-tier commands: `archive lifecycle show|apply`, the bucket's lifecycle rules."""

from __future__ import annotations

from django.core.management.base import CommandError

from apps.core.cli import add_format, print_json


def register(sub) -> None:
    lifecycle = sub.add_parser("lifecycle", help="show or apply the bucket's lifecycle rules (S3_LIFECYCLE_*)")
    lifecycle.add_argument("action", choices=["show", "apply"],
                           help="show: current rules and what apply would set; apply: set them")
    add_format(lifecycle)
    lifecycle.set_defaults(handler=handle_lifecycle)


def handle_lifecycle(cmd, options):
    from apps.lake import lifecycle

    if options["format"] == "json":
        return _as_json(cmd, options["action"])
    try:
        if options["action"] == "show":
            current = lifecycle.current_rules()
            cmd.stdout.write(f"current rules on bucket {lifecycle.bucket()}:{'' if current else ' none'}")
            for rule in current:
                cmd.stdout.write(f"  {lifecycle.describe(rule)}")
            plan = lifecycle.plan()
            cmd.stdout.write("`archive lifecycle apply` would set:" + ("" if plan.rules else " no rules"))
            for planned in plan.rules:
                tail = " (only where the server supports storage-class transitions)" if planned.optional else ""
                cmd.stdout.write(f"  {lifecycle.describe(planned.rule)}{tail}")
            for rule in lifecycle.foreign_rules(current):
                cmd.stdout.write(f"  kept as is (not the portal's): {lifecycle.describe(rule)}")
            warnings = [*plan.notes, *lifecycle.dangers(current)]
        else:
            result = lifecycle.lifecycle_apply()
            cmd.stdout.write(f"applied to bucket {lifecycle.bucket()}:" + ("" if result.applied else " no rules"))
            for rule in result.applied:
                cmd.stdout.write(f"  {lifecycle.describe(rule)}")
            for rule in result.kept:
                cmd.stdout.write(f"  kept as is (not the portal's): {lifecycle.describe(rule)}")
            for rule, why in result.refused:
                cmd.stdout.write(f"not applied: {lifecycle.describe(rule)}\n  reason: {why}")
            warnings = [*result.notes, *lifecycle.dangers(result.kept)]
    except lifecycle.LifecycleError as exc:
        raise CommandError(str(exc)) from None
    for warning in warnings:
        cmd.stderr.write(f"warning: {warning}")


def _rule(rule) -> dict:
    from apps.lake import lifecycle

    return {"rule": rule, "text": lifecycle.describe(rule)}


def _as_json(cmd, action: str) -> None:
    """The same facts as the text, as one object: rules as S3 holds them, each with its description."""
    from apps.lake import lifecycle

    try:
        if action == "show":
            current = lifecycle.current_rules()
            plan = lifecycle.plan()
            data = {"bucket": lifecycle.bucket(), "current": [_rule(r) for r in current],
                    "would_set": [{**_rule(p.rule), "optional": p.optional} for p in plan.rules],
                    "kept": [_rule(r) for r in lifecycle.foreign_rules(current)],
                    "warnings": [*plan.notes, *lifecycle.dangers(current)]}
        else:
            result = lifecycle.lifecycle_apply()
            data = {"bucket": lifecycle.bucket(), "applied": [_rule(r) for r in result.applied],
                    "kept": [_rule(r) for r in result.kept],
                    "refused": [{**_rule(r), "reason": why} for r, why in result.refused],
                    "warnings": [*result.notes, *lifecycle.dangers(result.kept)]}
    except lifecycle.LifecycleError as exc:
        raise CommandError(str(exc)) from None
    print_json(cmd, data)
