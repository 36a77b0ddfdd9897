"""The security suite (S7) attacks a real shipway: reuse the end-to-end fixture."""

from tests.e2e.conftest import shipway  # noqa: F401  (a fixture, used by name)
