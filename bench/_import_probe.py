"""Run in a fresh interpreter by bench.coldstart: time one cold import, print the seconds.

    python bench/_import_probe.py baseline
    python bench/_import_probe.py handler <code dir> <module> <layer dir>

It prints `import=<seconds>` (wall clock), `import_cpu=<seconds>` (this process's CPU time: less swayed by
other work on the machine) and, for a handler, `clients=<seconds>`: creating its lazily built boto3 clients (the
first invocation's share).

Kept free of any import from the benchmark, so that only what is measured gets imported.
"""

import gc
import sys
import time


def main() -> None:
    if sys.argv[1] == "baseline":
        started, started_cpu = time.perf_counter(), time.process_time()
        import boto3  # noqa: F401
        from aws_lambda_powertools import Logger  # noqa: F401

        elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    else:
        import importlib

        code_dir, module, layer_dir = sys.argv[2:5]
        sys.path[0:0] = [code_dir, layer_dir]  # Lambda's order: /var/task, then the layer's /opt/python
        started, started_cpu = time.perf_counter(), time.process_time()
        importlib.import_module(module)
        elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
        # Then what the first invocation adds: creating the boto3 clients the wiring made lazy (failover.wiring).
        wiring = sys.modules.get("failover.wiring")
        lazies = [o for o in gc.get_objects() if wiring and type(o) is getattr(wiring, "LazyClient", None)]
        started = time.perf_counter()
        for lazy in lazies:
            lazy.meta  # noqa: B018  (the first attribute a LazyClient is asked for creates its client)
        print(f"clients={time.perf_counter() - started:.6f}")
    print(f"import={elapsed:.6f}")
    print(f"import_cpu={cpu:.6f}")


if __name__ == "__main__":
    main()
