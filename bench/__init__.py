"""`make bench`: cost per flow, failover reaction time, cold start and throughput of the local stack.

See bench/results.md for the figures and how each is measured; `python -m bench --help` for the options.
"""

import os

# The handlers' Logger takes its level when failover.observability is first imported, which importing the local
# stack's modules already does; without this it would log every step at INFO and slow every measurement down.
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
