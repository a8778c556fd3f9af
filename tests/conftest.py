import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A fixed-seed generator: every test is reproducible bit for bit."""
    return np.random.default_rng(20240726)
