"""The places where archived data lives; the registry of them is `apps.places.registry.PLACES`."""
