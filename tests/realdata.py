"""The example chest CT for tests marked `real`: fetched once per session, skipped loudly if unreachable."""

from __future__ import annotations

import pytest

from hounsfield.errors import DataUnavailableError


@pytest.fixture(scope="session")
def chest_ct():
    """(ct, labels) Volumes of the example chest CT."""
    from hounsfield.data import example_chest_ct

    try:
        return example_chest_ct()
    except DataUnavailableError as error:
        pytest.skip(f"REAL DATA UNAVAILABLE: {error}")
