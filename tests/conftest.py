"""Shared fixtures."""

from __future__ import annotations

import pytest

from hounsfield.errors import DataUnavailableError


@pytest.fixture(scope="session")
def chest_ct():
    """(ct, labels) of the example chest CT; skipped loudly if the registry is unreachable."""
    from hounsfield.data import example_chest_ct

    try:
        return example_chest_ct()
    except DataUnavailableError as error:
        pytest.skip(f"REAL DATA UNAVAILABLE: {error}")
