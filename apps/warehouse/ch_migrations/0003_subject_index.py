"""The subject index: which days hold records of a subject key (the keyed hash, never the identifier).

Written by the exporter's ClickHouse sink after each batch's records, with a token of its own, so a
replayed batch adds nothing (`apps/compliance/subject_index.py`). Only days are kept: a lookup reads
both tiers for those days, so tiering, which moves records between tiers, never changes the index.
Replacing: the same (key, day) from two batches becomes one row at the next merge.
"""

STATEMENTS = [
    """
CREATE TABLE IF NOT EXISTS {db}.subject_index
(
    `key_hash` String CODEC(ZSTD(3)),
    `day` Date
)
ENGINE = ReplacingMergeTree
ORDER BY (key_hash, day)
-- Exactly-once inserts: replays carry the same insert_deduplication_token.
SETTINGS non_replicated_deduplication_window = 10000
""",
]
