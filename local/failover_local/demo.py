"""`make demo`: the seed's three use cases, each sent to a simulator number that makes it fail over.

Uses the stack at http://127.0.0.1:$PORT if one answers /health; otherwise starts one (fast time scale).
"""

from __future__ import annotations

import os
import sys
import time

import requests

from failover_local.aws import local_applications
from failover_local.stack import DEFAULT_PORT, LocalStack, bearer_session

VOICE_SAY = {"type": "SAY", "message": {"language": "en-US", "gender": "female"}, "repeat": 1}

USE_CASES = [
    (
        "Banking: a transaction PIN (Viber → SMS); the customer has no Viber",
        [
            {"type": "Viber", "order": 1, "to": "+306900000100", "senderInfoTrackingId": "MyBank", "ttl": 0.5,
             "message": {"text": "Your PIN is 4821"}},
            {"type": "Sms", "order": 2, "from": "MyBank", "to": "+306900000100", "ttl": 5,
             "message": {"body": "Your PIN is 4821"}},
        ],
    ),
    (
        "Retail: a discount code (Viber → SMS); Viber never reports, so the ttl expires",
        [
            {"type": "Viber", "order": 1, "to": "+306900000200", "senderInfoTrackingId": "MyShop", "ttl": 0.5,
             "message": {"text": "20% off today with code SAVE20", "imageUrl": "https://example.com/sale.png",
                         "action": {"caption": "Shop now", "targetUrl": "https://example.com/sale"}}},
            {"type": "Sms", "order": 2, "from": "MyShop", "to": "+306900000200", "ttl": 5,
             "message": {"body": "20% off today with code SAVE20"}},
        ],
    ),
    (
        "Appointments: a reminder (Viber → SMS → Voice); only the call gets through",
        [
            {"type": "Viber", "order": 1, "to": "+306900000110", "senderInfoTrackingId": "Clinic", "ttl": 0.5,
             "message": {"text": "Reminder: Dr. Papas tomorrow 10:00. Call 2101234567 to change."}},
            {"type": "Sms", "order": 2, "from": "Clinic", "to": "+306900000110", "ttl": 5,
             "message": {"body": "Reminder: Dr. Papas tomorrow 10:00. Call 2101234567 to change."}},
            {"type": "Voice", "order": 3, "from": "302101234567", "to": {"phone": "+306900000110"}, "ttl": 5,
             "dialPlan": {"verbs": [{**VOICE_SAY, "message": {**VOICE_SAY["message"],
                                     "text": "Reminder: your appointment is tomorrow at ten."}}]}},
        ],
    ),
]  # fmt: skip


def running(url: str) -> bool:
    try:
        return requests.get(f"{url}/health", timeout=2).status_code == 200
    except requests.RequestException:
        return False


def timeline(snapshot: dict) -> str:
    lines = [f"  flow {snapshot['trackingId']}: {snapshot['status']}"]
    if snapshot.get("statusCode"):
        lines[0] += f" (statusCode {snapshot['statusCode']})"
    if snapshot.get("terminationChannel"):
        lines[0] += f" on {snapshot['terminationChannel']}"
    for message in snapshot["messages"]:
        status = message["status"]
        detail = (status.get("reason") or {}).get("detailedStatus")
        lines.append(
            f"    {status['updatedDate']}  #{message['order']} {message['type']:<5} {status['name']}"
            + (f" ({detail})" if detail and detail != status["name"] else "")
            + f"  price {message['price']}"
        )
    lines.append(f"  total price {snapshot['totalPrice']}")
    return "\n".join(lines)


def run(url: str, patience: float) -> int:
    application_id, secret = next(iter(local_applications().items()))
    session = bearer_session(url, application_id, secret)
    flows = []
    for title, flow in USE_CASES:
        response = session.post(f"{url}/failover", json={"flow": flow}, timeout=10)
        response.raise_for_status()
        flows.append((title, response.json()["trackingId"]))
    deadline = time.monotonic() + patience
    pending = dict(flows)
    snapshots: dict[str, dict] = {}
    while pending and time.monotonic() < deadline:
        for title, tracking_id in list(pending.items()):
            snapshot = session.get(f"{url}/failover/tracking/{tracking_id}", timeout=10).json()
            if snapshot["status"] in ("Succeeded", "Failed"):
                snapshots[title] = snapshot
                del pending[title]
        time.sleep(0.5)
    for title, tracking_id in flows:
        print(f"\n{title}")
        print(timeline(snapshots.get(title) or session.get(f"{url}/failover/tracking/{tracking_id}").json()))
    return 0 if not pending else 1


def main() -> int:
    url = f"http://127.0.0.1:{os.environ.get('PORT') or DEFAULT_PORT}"
    if running(url):
        print(f"Using the stack at {url}; waiting for the flows (a Viber ttl is 30 s at time scale 1)...")
        return run(url, patience=15 * 60)
    print("No stack answers; starting one at time scale 0.05 for this demo...")
    stack = LocalStack(port=0, simulator_port=0, time_scale=0.05).start()
    try:
        return run(stack.url, patience=60)
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
