"""One subject's records in every place the archive keeps them; after an approved erasure the
subject is nowhere (checked without the erasure's code) and every other record is there once."""

from __future__ import annotations

import pytest
from django.core.management.base import CommandError

from tests.erasure.helpers import (
    TYPED,
    add,
    cli,
    cli_json,
    export_all,
    found_anywhere,
    others_exactly_once,
    parts_left,
    spread_subject,
    subject_entry,
    subject_parts,
)
from tests.retention.helpers import T0
from tests.roles import user_in


def test_an_erasure_reaches_every_place_and_proves_it(archive):
    spread = spread_subject(archive)
    user_in("Compliance Officer", "officer_a")
    user_in("Compliance Officer", "officer_b")
    before = found_anywhere(archive)
    parts = subject_parts()
    assert parts
    # Every entry is still in the stream (exported ones stay until the trim), three not exported yet.
    assert before["warm"] and before["snapshots"] and before["rehydrated"] and before["stream"] == 26

    filed = cli_json("erasure", "file", "--subject", TYPED, "--basis", "GDPR art. 17(1)(a)",
                     "--reason", "ticket DSR-1", "--by", "officer_a")
    assert filed["state"] == "submitted" and filed["id"]
    preview = cli_json("erasure", "preview", str(filed["id"]))
    counts = preview["counts"]
    assert counts["stream"] == 26 and preview["stream_pending"] == 3  # two delivered, one unread
    assert counts["dead_letters"] == 2  # the row and the dead-letter stream entry
    assert counts["warm"] > 0 and counts["cold"] > 0 and counts["rehydrated"] > 0
    assert preview["files"]["to_rewrite"] <= len(preview["partitions"]["cold"]) * 2

    with pytest.raises(CommandError, match="cannot decide"):
        cli("erasure", "approve", str(filed["id"]), "--by", "officer_a")
    cli("erasure", "approve", str(filed["id"]), "--by", "officer_b")
    done = cli_json("erasure", "run", str(filed["id"]))
    assert done["state"] == "completed", done
    assert done["verification"]["passed"] is True
    assert done["certificate_sha256"]
    assert done["approved_by"] == "officer_b" and done["requested_by"] == "officer_a"
    assert {s["name"]: s["state"] for s in done["steps"]} == {s["name"]: "done" for s in done["steps"]}
    assert all(s["seconds"] is not None for s in done["steps"])
    assert done["counts"]["warm"] == counts["warm"] and done["counts"]["cold"] == counts["cold"]

    after = found_anywhere(archive)
    assert after == {key: 0 for key in after}, after
    assert parts_left(parts) == []  # no active or inactive part of before holds the rows
    assert others_exactly_once(spread["background"]) == (spread["background"], spread["background"])

    # A late record of the same person (a new job, same email) is not archived, and is counted.
    add(archive, [subject_entry(99, int(T0.timestamp() * 1000))])
    export_all()
    assert found_anywhere(archive)["warm"] == 0
    assert cli_json("erasure", "show", str(filed["id"]))["late_dropped"] == 1
