"""The warm table's cleanup thread looks for parts to remove every second instead of backing off
to five minutes: an erasure waits for the parts it replaced to leave the disk
(apps/warehouse/physical.py), and with the default back-off that wait could take minutes. A look
costs a listing of the table's parts; how long old parts are kept (`old_parts_lifetime`) is
unchanged except during an erasure.
"""

STATEMENTS = [
    "ALTER TABLE {db}.jobs_archive MODIFY SETTING cleanup_delay_period = 1, max_cleanup_delay_period = 1, "
    "cleanup_delay_period_random_add = 0",
]
