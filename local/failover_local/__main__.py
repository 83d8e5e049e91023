"""`make run`: the whole product on this machine until Ctrl-C."""

from __future__ import annotations

import os
import signal
import sys
import threading

from failover_local.stack import DEFAULT_PORT, DEFAULT_SIMULATOR_PORT, LocalStack, RouteeEndpoint, StatusLog


def main() -> int:
    port = int(os.environ.get("PORT") or DEFAULT_PORT)
    simulator_port = int(os.environ.get("SIMULATOR_PORT") or DEFAULT_SIMULATOR_PORT)
    routee = RouteeEndpoint.from_environment()
    stack = LocalStack(port=port, simulator_port=simulator_port, routee=routee, on_status=StatusLog())
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    stack.start()
    try:
        print(f"failover API      {stack.url}   (GET /health, POST /failover, GET /failover/tracking/{{id}})")
        if stack.simulator is not None:
            sim = stack.simulator
            print(f"Routee simulator  {sim.base_url}   (application {sim.application_id} / {sim.application_secret})")
        else:
            print(f"Routee endpoint   {routee.api_url} (from ROUTEE_API_URL)")
        print(f"time scale        {stack.time_scale}   (FAILOVER_TIME_SCALE)")
        assert stack.aws is not None
        if stack.aws.faults is not None:
            print(f"faults            {stack.aws.faults.describe()}   (FAILOVER_LOCAL_FAULTS, docs/faults.md)")
        for application_id, secret in stack.aws.applications.items():
            callback_secret = stack.aws.callback_secret(application_id)
            print(f"application       {application_id} / {secret}   callbacks signed with {callback_secret}")
        print("Ctrl-C stops everything. Status changes follow:", flush=True)
        stop.wait()
    finally:
        print("\nstopping...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
