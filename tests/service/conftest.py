"""Fixtures of the service tests live in tests/conftest.py (shared with the end-to-end tests)."""

from tests.conftest import Server, register_tiny_model  # noqa: F401  (imported by test modules)
