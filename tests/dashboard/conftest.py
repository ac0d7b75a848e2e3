"""Dashboard fixtures: each test starts with no memory of a page having asked for a range's first snapshot."""

from __future__ import annotations

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _no_first_requests_remembered():
    cache.clear()  # dashboard_request_first asks at most once a minute per range, remembered in the cache
    yield
    cache.clear()
