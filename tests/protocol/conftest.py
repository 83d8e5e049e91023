import boto3
import pytest
from hypothesis.internal.conjecture import providers as hypothesis_providers
from hypothesis.internal.constants_ast import Constants
from moto import mock_aws

from tests.tables import create_keyed_table


@pytest.fixture
def table():
    with mock_aws():
        dynamodb = boto3.resource("dynamodb", region_name="eu-west-1")
        yield create_keyed_table(dynamodb)


@pytest.fixture(autouse=True)
def no_constants_from_imported_modules(monkeypatch):
    """Hypothesis now and then draws a constant it found in the source of a project module imported so far
    (hypothesis.internal.conjecture.providers._get_local_constants). Which modules that is depends on the tests
    that ran earlier (tests/bench imports bench/ and the local stack), so a derandomized exploration generated
    other examples in the full suite than alone, and missed the stall it finds alone. Here the pool is empty:
    the same examples whatever ran before. An internal of Hypothesis: if it moves, this fails loudly."""
    monkeypatch.setattr(hypothesis_providers, "_get_local_constants", lambda: Constants())
    hypothesis_providers.CONSTANTS_CACHE.cache.clear()  # the pool as filtered per draw, cached
    yield
    hypothesis_providers.CONSTANTS_CACHE.cache.clear()
