"""Every place of the registry is erased, counted and verified: a place added without them fails here."""

from __future__ import annotations

from apps.erasure import execution, survey, verification
from apps.places.registry import PLACES

# The stream place is named `redis` in the registry and `stream` in counts (the CLI's JSON keys).
SHOWN_AS = {"redis": "stream"}


def test_every_place_has_an_erasure_step_a_count_and_a_verification():
    places = {SHOWN_AS.get(place.NAME, place.NAME) for place in PLACES}
    assert places == set(execution.STEP_OF_PLACE)
    assert places == set(survey.COUNT_KEYS)
    assert places == set(verification.CHECKS)
    assert set(execution.STEP_OF_PLACE.values()) <= set(execution.STEPS)
