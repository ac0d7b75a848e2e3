"""Each test starts and ends with this process on schema version 1: the registry is per test, the process is not."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from apps.schemas.registry import forget_live_schema

DOCS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


@pytest.fixture(autouse=True)
def _fresh_live_schema():
    forget_live_schema()
    yield
    forget_live_schema()


@pytest.fixture
def v2_spec() -> dict:
    """The documented example: adds `region` (default "unknown") and `billed_units` (nullable), deprecates
    `worker_version`."""
    return json.loads((DOCS / "v2.example.json").read_text())


@pytest.fixture
def v3_file() -> Path:
    return DOCS / "v3.incompatible.example.json"
