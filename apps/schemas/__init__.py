"""The schema registry: versions of the archived record as data, compatibility checks and evolution."""
