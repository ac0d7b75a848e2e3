"""The one registry of the places where archived data lives (docs/places.md).

Every feature that removes (or, later, returns) records goes through `PLACES`, so none of them
misses a copy: a new copy of archived data is a new place here, or it is a bug. Each place
module has `NAME`, `preview(selections) -> Found` (counts, and what removing needs) and
`remove(found) -> dict`. They are listed in the order a removal must visit them: the stream
first (its records are marked purged and the batches holding them waited for, so nothing is
exported again behind the removal), then the tiers and every copy.
"""

from apps.places import cold, copies, dead_letters, rehydrated, stream, subject_index, warm

# The subject index last: until the end, it still says where the rest of a subject's records are.
PLACES = (stream, warm, cold, dead_letters, rehydrated, copies, subject_index)
