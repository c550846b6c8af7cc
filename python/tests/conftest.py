"""Shared by the tests: optional packages that a test needs."""

import importlib
import os

import pytest


def optional(module: str):
    """``module`` imported, or the test skipped where it is not installed. With
    ``AUMANN_TEST_REQUIRE`` naming it (a comma-separated list, as CI sets it), a missing
    module fails the test instead: there it must not be skipped."""
    required = {m.strip() for m in os.environ.get("AUMANN_TEST_REQUIRE", "").split(",")}
    if module in required:
        return importlib.import_module(module)
    return pytest.importorskip(module, reason=f"{module} is not installed")
