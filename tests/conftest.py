import os

os.environ.setdefault("MPLBACKEND", "Agg")

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

# One hypothesis profile for every property test (tests/test_extremes.py and others): no
# deadline (timings on a shared machine are not properties), a derandomized search (the
# same examples on every run and in CI) and a moderate number of examples per property.
settings.register_profile("nfref", deadline=None, derandomize=True, max_examples=60,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "nfref"))


@pytest.fixture
def rng():
    """A fixed-seed generator: every test is reproducible bit for bit."""
    return np.random.default_rng(20240726)
