"""Grants that the test suite cannot exercise, each kept on purpose: (principal, action) → why."""

KEPT_FOR_UNREACHABLE_PATHS: dict[tuple[str, str], str] = {}
