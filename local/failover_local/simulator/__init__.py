"""A Routee-compatible channel simulator for development and tests (never shipped).

    python -m failover_local.simulator --port 3001

or in-process:

    with Simulator(port=0, time_scale=0.02) as sim:
        ...  # ROUTEE_AUTH_URL = ROUTEE_API_URL = sim.base_url

See docs/simulator.md for the magic numbers, delays and prices.
"""

from failover_local.simulator.delivery import Delivery
from failover_local.simulator.scenarios import PRICES, Delays, outcome_digit
from failover_local.simulator.server import (
    DEFAULT_APPLICATION_ID,
    DEFAULT_APPLICATION_SECRET,
    DEFAULT_PORT,
    Message,
    RequestRecord,
    Simulator,
)

__all__ = [
    "DEFAULT_APPLICATION_ID",
    "DEFAULT_APPLICATION_SECRET",
    "DEFAULT_PORT",
    "PRICES",
    "Delays",
    "Delivery",
    "Message",
    "RequestRecord",
    "Simulator",
    "outcome_digit",
]
