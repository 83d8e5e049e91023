import pytest

from tests.harness import Harness, start_harness, stop_harness


@pytest.fixture(scope="module")
def stack() -> Harness:
    """One local stack (moto + template.yaml + real handlers) for the tests that drive flows in-process."""
    harness = start_harness()
    yield harness
    stop_harness(harness)


# --- IAM proven per function --------------------------------------------------------------------------------
# Every AWS call a function of the local stack makes is recorded (failover_local.iam_recorder); at the end of the
# session each is checked against that function's role in the transformed template (failover_local.iam_check).
# A call the role does not allow fails the suite.

_IAM_REPORT: list[str] = []


def pytest_sessionfinish(session, exitstatus):
    from failover_local.iam_check import session_verdict
    from failover_local.iam_recorder import RECORDER
    from tests.deploy.iam_allowances import KEPT_FOR_UNREACHABLE_PATHS

    failed, lines = session_verdict(RECORDER, KEPT_FOR_UNREACHABLE_PATHS)
    _IAM_REPORT.extend(lines)
    if failed:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter):
    if _IAM_REPORT:
        terminalreporter.section("IAM: recorded calls against each role of the transformed template")
        for line in _IAM_REPORT:
            terminalreporter.write_line(line)
