"""Which (day, queue, outcome) groups are served from the cold tier, recorded when tiering verified them.

`jobs_all` reads a group from the warm table until its marker is effective, and from the cold
table after. A marker takes effect a grace period after it is written and the warm rows go a
grace period after that, so no query sees the switch half made. The verified counts and id
checksums are kept as the proof of each move.
"""

STATEMENTS = [
    """
CREATE TABLE IF NOT EXISTS {db}.tier_moves
(
    `day` Date,
    `queue` LowCardinality(String),
    `outcome` LowCardinality(String),
    `records` UInt64,
    `id_checksum` UInt64,
    `moved_at` DateTime64(3, 'UTC') DEFAULT now64(3),
    `effective_at` DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY (day, queue, outcome)
""",
]
