"""Records a legal hold keeps survive an erasure of their subject; the preview and the certificate name the hold."""

from __future__ import annotations

from datetime import timedelta

from apps.accounts.actors import Actor
from apps.compliance.services import hold_place
from apps.erasure.models import ErasureRequest
from apps.warehouse import client as ch
from tests.erasure.helpers import (
    EMAIL,
    PREFIX,
    TYPED,
    add,
    cli,
    cli_json,
    default_rules,
    export_all,
    subject_entry,
)
from tests.retention.helpers import DAY_MS, T0
from tests.roles import user_in


def _subject_rows(table: str) -> list[str]:
    return sorted(j for (j,) in ch.query(f"SELECT job_id FROM {{db}}.{table} WHERE startsWith(job_id, '{PREFIX}')",
                                         tag="test", settings_={"apply_deleted_mask": 0}).result_rows)


def test_held_records_survive_and_the_certificate_names_the_hold(archive):
    default_rules()
    now_ms = int(T0.timestamp() * 1000)
    add(archive, [subject_entry(i, now_ms - i * DAY_MS - 1000) for i in range(6)])
    export_all()
    officer_a = user_in("Compliance Officer", "officer_a")
    user_in("Compliance Officer", "officer_b")
    # A hold on the person, by subject key, for its last days only (ann-0 and ann-1 fall in them).
    hold = hold_place(actor=Actor.of_user(officer_a), reason="Acme v. Us, case 24-113",
                      subjects=[f"email={EMAIL}"], date_from=(T0 - timedelta(days=2)).date(), date_to=T0.date())

    filed = cli_json("erasure", "file", "--subject", TYPED, "--basis", "GDPR art. 17(1)(a)",
                     "--reason", "DSR-7", "--by", "officer_a")
    preview = cli_json("erasure", "preview", str(filed["id"]))
    assert [h["hold"] for h in preview["held"]] == [hold.pk]
    assert preview["held"][0]["records"] == 2
    assert preview["counts"]["warm"] == 4 and preview["counts"]["cold"] == 4

    cli("erasure", "approve", str(filed["id"]), "--by", "officer_b")
    done = cli_json("erasure", "run", str(filed["id"]))
    assert done["state"] == "completed_held", done
    assert done["verification"]["passed"] is True
    kept = [f"{PREFIX}0", f"{PREFIX}1"]
    assert _subject_rows("jobs_archive") == kept
    assert _subject_rows("jobs_cold") == kept
    certificate = ErasureRequest.objects.get(pk=filed["id"]).certificate
    assert [(h["hold"], h["records"]) for h in certificate["kept_under_hold"]] == [(hold.pk, 2)]
    assert "Acme v. Us" in certificate["kept_under_hold"][0]["label"]
    # The hold's person still works there: a later record is kept too (the hold wins over the tombstone).
    add(archive, [subject_entry(50, now_ms - 1000)])
    export_all()
    assert f"{PREFIX}50" in _subject_rows("jobs_archive")
