"""A load generator in its own process, so that its clients do not share the local stack's GIL.

    python -m bench.load <api url> <clients> <flows> <application id> <secret> <digits>[,<digits>...] [<tag>]

Each client gets its own Bearer token, then POSTs its share of the flows back to back. With several digit
triples (bench.flows paths), flow n follows the n-th path in turn. Prints one JSON object: the wall-clock start
and end, the accepted flows (trackingId, recipient, digits), the POST latencies and the errors.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import requests

from bench.flows import step_request

# The paths by their digits (bench.flows.PATHS and EXPIRY_PATH): channels and ttl in minutes.
SHAPES: dict[str, list[tuple[str, float]]] = {
    "000": [("Viber", 5)],
    "100": [("Viber", 5), ("Sms", 5)],
    "111": [("Viber", 5), ("Sms", 5), ("Voice", 5)],
    "200": [("Viber", 0.5), ("Sms", 5)],
}


def _session(url: str, application_id: str, secret: str) -> requests.Session:
    session = requests.Session()
    if application_id:
        answer = session.post(
            f"{url}/oauth/token", auth=(application_id, secret), data={"grant_type": "client_credentials"}, timeout=30
        )
        answer.raise_for_status()
        session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return session


def body(digits: str, to: str) -> dict[str, Any]:
    shape = SHAPES.get(digits, SHAPES["100"])
    return {"flow": [step_request(channel, to, n, ttl) for n, (channel, ttl) in enumerate(shape, start=1)]}


def main() -> None:
    url, clients, flows, application_id, secret, digits = sys.argv[1:7]
    tag = sys.argv[7] if len(sys.argv) > 7 else "0"
    paths = digits.split(",")
    clients_n, flows_n = int(clients), int(flows)
    sessions = [_session(url, application_id, secret) for _ in range(clients_n)]
    accepted: list[dict[str, str]] = []
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients_n + 1)

    def client(index: int) -> None:
        session = sessions[index]
        share = flows_n // clients_n + (1 if index < flows_n % clients_n else 0)
        start.wait()
        for n in range(share):
            path = paths[(n * clients_n + index) % len(paths)]
            to = f"+3069{tag[-1]}{index % 10}{n % 1000:03d}{path}"  # a Greek mobile, unique per run
            for _ in range(3):  # a refused or failed POST is recorded, then retried with a fresh token
                began = time.perf_counter()
                try:
                    response = session.post(f"{url}/failover", json=body(path, to), timeout=60)
                except requests.RequestException as error:
                    with lock:
                        errors.append(f"{type(error).__name__}: {error}"[:200])
                else:
                    took = time.perf_counter() - began
                    with lock:
                        if response.status_code == 200:
                            accepted.append({"trackingId": response.json()["trackingId"], "to": to, "digits": path})
                            latencies.append(took)
                            break
                        errors.append(f"{response.status_code}: {response.text[:200]}")
                session.close()
                session = _session(url, application_id, secret)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients_n)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.time()
    for thread in threads:
        thread.join()
    ended = time.time()
    print(json.dumps({"began": began, "ended": ended, "accepted": accepted, "latencies": latencies, "errors": errors}))


if __name__ == "__main__":
    main()
