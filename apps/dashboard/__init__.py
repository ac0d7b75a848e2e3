"""The dashboard: the archive at a glance, from the rollups and the figures the portal already keeps."""
