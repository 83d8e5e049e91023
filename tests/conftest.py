import pytest

from tests.harness import Harness, start_harness, stop_harness


@pytest.fixture(scope="module")
def stack() -> Harness:
    """One local stack (moto + template.yaml + real handlers) for the tests that drive flows in-process."""
    harness = start_harness()
    yield harness
    stop_harness(harness)
