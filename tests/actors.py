"""The actor tests act as when they call services directly (as beat would: no portal user)."""

from apps.accounts.actors import Actor

TESTS = Actor.system("tests")
