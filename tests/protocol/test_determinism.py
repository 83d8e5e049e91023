"""The exploration generates the same examples whatever other tests ran before it (tests/protocol/conftest.py)."""

from __future__ import annotations

import importlib.util
import sys

from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.internal.conjecture import providers as hypothesis_providers
from hypothesis.internal.constants_ast import Constants

HYPOTHESIS_POOL = hypothesis_providers._get_local_constants  # before the conftest's fixture replaces it


def _draws() -> list[int]:
    drawn: list[int] = []

    @settings(max_examples=200, derandomize=True, database=None)
    @given(st.integers(0, 10**6))
    def record(value):
        drawn.append(value)

    record()
    return drawn


def _draws_before_and_after_importing_a_module(tmp_path) -> tuple[list[int], list[int]]:
    """Derandomized draws, then the same draws once a project module full of constants has been imported."""
    before = _draws()
    source = tmp_path / "constants_module.py"
    source.write_text("".join(f"VALUE_{n} = {1000 + 7 * n}\n" for n in range(200)))
    spec = importlib.util.spec_from_file_location("constants_module", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    sys.modules["constants_module"] = module
    try:
        return before, _draws()
    finally:
        del sys.modules["constants_module"]


def test_an_imported_module_does_not_change_the_examples(tmp_path):
    before, after = _draws_before_and_after_importing_a_module(tmp_path)
    assert before == after


def test_without_the_fixture_it_would(tmp_path, monkeypatch):
    """The check can fail: Hypothesis's own pool (sandboxed here, so it forgets the module afterwards)."""
    monkeypatch.setattr(hypothesis_providers, "_get_local_constants", HYPOTHESIS_POOL)
    monkeypatch.setattr(hypothesis_providers, "_local_constants", hypothesis_providers._local_constants | Constants())
    monkeypatch.setattr(hypothesis_providers, "_seen_modules", set(hypothesis_providers._seen_modules))
    monkeypatch.setattr(hypothesis_providers, "_sys_modules_len", hypothesis_providers._sys_modules_len)
    before, after = _draws_before_and_after_importing_a_module(tmp_path)
    hypothesis_providers.CONSTANTS_CACHE.cache.clear()
    assert before != after
