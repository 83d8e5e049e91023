"""A load generator in its own process, so that its clients do not share the local stack's GIL.

    python -m bench.load <api url> <clients> <flows> <application id> <secret> <digits>

Each client gets its own Bearer token, then POSTs its share of the flows back to back. Prints one JSON object:
the wall-clock start and end, the accepted trackingIds, and the errors.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from typing import Any

import requests


def _session(url: str, application_id: str, secret: str) -> requests.Session:
    session = requests.Session()
    if application_id:
        answer = session.post(
            f"{url}/oauth/token", auth=(application_id, secret), data={"grant_type": "client_credentials"}, timeout=30
        )
        answer.raise_for_status()
        session.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
    return session


def main() -> None:
    url, clients, flows, application_id, secret, digits = sys.argv[1:7]
    clients_n, flows_n = int(clients), int(flows)
    sessions = [_session(url, application_id, secret) for _ in range(clients_n)]
    accepted: list[str] = []
    latencies: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(clients_n + 1)

    def client(index: int) -> None:
        session = sessions[index]
        share = flows_n // clients_n + (1 if index < flows_n % clients_n else 0)
        start.wait()
        for n in range(share):
            to = f"+3069{index:02d}{n:03d}{digits}"
            body: dict[str, Any] = {
                "flow": [
                    {
                        "type": "Viber",
                        "order": 1,
                        "to": to,
                        "senderInfoTrackingId": "MyBank",
                        "ttl": 5,
                        "message": {"text": "Your PIN is 4821"},
                    },
                    {
                        "type": "Sms",
                        "order": 2,
                        "from": "MyBank",
                        "to": to,
                        "ttl": 5,
                        "message": {"body": "Your PIN is 4821"},
                    },
                ]
            }
            for _ in range(3):  # a refused POST is recorded, then retried with a fresh token
                began = time.perf_counter()
                response = session.post(f"{url}/failover", json=body, timeout=60)
                took = time.perf_counter() - began
                with lock:
                    if response.status_code == 200:
                        accepted.append(response.json()["trackingId"])
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
