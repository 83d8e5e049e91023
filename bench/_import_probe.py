"""Run in a fresh interpreter by bench.coldstart: time one cold import, print the seconds.

    python bench/_import_probe.py baseline
    python bench/_import_probe.py handler <code dir> <module> <layer dir>

For a handler it prints first the seconds that creating its lazily built boto3 clients takes (the first
invocation's share), then the import's.

Kept free of any import from the benchmark, so that only what is measured gets imported.
"""

import gc
import sys
import time


def main() -> None:
    if sys.argv[1] == "baseline":
        started = time.perf_counter()
        import boto3  # noqa: F401
        from aws_lambda_powertools import Logger  # noqa: F401

        elapsed = time.perf_counter() - started
    else:
        import importlib

        code_dir, module, layer_dir = sys.argv[2:5]
        sys.path[0:0] = [code_dir, layer_dir]  # Lambda's order: /var/task, then the layer's /opt/python
        started = time.perf_counter()
        importlib.import_module(module)
        elapsed = time.perf_counter() - started
        # Then what the first invocation adds: creating the boto3 clients the wiring made lazy (failover.wiring).
        wiring = sys.modules.get("failover.wiring")
        lazies = [o for o in gc.get_objects() if wiring and type(o) is getattr(wiring, "LazyClient", None)]
        started = time.perf_counter()
        for lazy in lazies:
            lazy.meta  # noqa: B018  (the first attribute a LazyClient is asked for creates its client)
        print(f"{time.perf_counter() - started:.6f}")
    print(f"{elapsed:.6f}")


if __name__ == "__main__":
    main()
