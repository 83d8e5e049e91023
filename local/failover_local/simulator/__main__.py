"""python -m failover_local.simulator [--port 3001] [--time-scale 1] [--balance 100] [--quiet]"""

from __future__ import annotations

import argparse
import os
import signal
import threading

from failover_local.simulator.server import DEFAULT_BALANCE, DEFAULT_PORT, DEFAULT_TOKEN_LIFETIME, Simulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m failover_local.simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=int(os.environ.get("SIMULATOR_PORT") or DEFAULT_PORT))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--time-scale", type=float, default=None, help="default: env FAILOVER_TIME_SCALE or 1")
    parser.add_argument("--balance", type=float, default=DEFAULT_BALANCE, help="account balance in EUR")
    parser.add_argument("--token-lifetime", type=float, default=DEFAULT_TOKEN_LIFETIME, help="seconds")
    parser.add_argument("--quiet", action="store_true", help="do not log requests and receipts")
    args = parser.parse_args(argv)

    simulator = Simulator(
        port=args.port,
        host=args.host,
        time_scale=args.time_scale,
        balance=args.balance,
        token_lifetime=args.token_lifetime,
        verbose=not args.quiet,
    ).start()
    print(f"Routee simulator on {simulator.base_url} (time scale {simulator.time_scale})", flush=True)
    print(f"  applicationId:     {simulator.application_id}", flush=True)
    print(f"  applicationSecret: {simulator.application_secret}", flush=True)
    print(f"  ROUTEE_AUTH_URL={simulator.base_url} ROUTEE_API_URL={simulator.base_url}", flush=True)

    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    try:
        done.wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
        print("Routee simulator stopped", flush=True)


if __name__ == "__main__":
    main()
