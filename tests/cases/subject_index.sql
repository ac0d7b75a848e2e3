CREATE TABLE {db}.subject_index
(
    `key_hash` String CODEC(ZSTD(3)),
    `day` Date
)
ENGINE = ReplacingMergeTree
ORDER BY (key_hash, day)
SETTINGS non_replicated_deduplication_window = 10000, index_granularity = 8192
