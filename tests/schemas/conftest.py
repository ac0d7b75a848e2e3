"""Each test starts and ends with this process on schema version 1: the registry is per test, the process is not.

The registry starts at the versions the archive ships (`SHIPPED`, version 2 adds subject_keys): the
versions these tests apply follow it (`NEXT`, then `NEXT + 1`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.schemas.registry import forget_live_schema
from apps.schemas.spec import SHIPPED_VERSION

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"
SHIPPED = SHIPPED_VERSION
NEXT = SHIPPED + 1


@pytest.fixture(autouse=True)
def _fresh_live_schema():
    forget_live_schema()
    yield
    forget_live_schema()


@pytest.fixture
def next_spec() -> dict:
    """The documented example, the version after the shipped ones: adds `region` (default "unknown")
    and `billed_units` (nullable), deprecates `worker_version`."""
    spec = json.loads((DOCS / f"v{NEXT}.example.json").read_text())
    assert spec["version"] == NEXT
    return spec


@pytest.fixture
def incompatible_file() -> Path:
    """The documented incompatible example, for the version after `next_spec`."""
    return DOCS / f"v{NEXT + 1}.incompatible.example.json"
