"""The simulator's payloads have the shape of Routee's: the examples below are copied from
shared/reference/routee-api.md (elisions "…" filled in), and every payload must match one key for key,
level for level, type for type. Keys the reference documents as optional are allowed on top."""

from __future__ import annotations

import json
import re
from typing import Any

import requests

from failover_local.simulator import Simulator

from .conftest import Client, Receiver, sms_request, viber_request, voice_request, wait_until

TOKEN = json.loads(
    '{"access_token":"6a1e5b4c-8c9f-4b2e-9d4a-3f2b1c0d9e8f","token_type":"bearer","expires_in":3599,'
    '"scope":"sms viber voice account failover","permissions":["MT_ROLE_SMS"]}'
)
SMS_SENT = json.loads(
    '{"trackingId":"66fb6987-a","status":"Queued","createdAt":"2024-07-10T03:32:32.916Z","from":"Brand",'
    '"to":"+306912345678","body":"Hello","bodyAnalysis":{"parts":1,"unicode":false,"characters":22},'
    '"flash":false,"callback":{"url":"https://x","strategy":"OnChange"}}'
)
SMS_RECEIPT = json.loads(
    '{"messageId":"66fb6987-a","smsId":"1274d238-a","part":1,"parts":1,"label":"otp","to":"+306912345678",'
    '"from":"Brand","country":"GR","operator":"Vodafone","status":{"name":"Delivered","reason":'
    '{"detailedStatus":"Delivered","description":"d"},"updatedDate":"2019-07-05T10:28:49Z"},"message":"m",'
    '"applicationName":"default","latency":4,"price":0.036,"direction":"Outbound","originatingService":"Sms"}'
)
VIBER_SENT = json.loads(
    '{"trackingId":"t","to":"+306912345678","from":"MyBrand","country":"GR","status":{"status":"QUEUED",'
    '"date":"2024-07-10T03:32:32.916Z"},"ttl":3600,"message":"m","imageUrl":"https://x/i.png",'
    '"viberAction":{"caption":"Go","targetUrl":"https://x"},"callbackUrl":"https://x"}'
)
VIBER_RECEIPT = json.loads(
    '{"trackingId":"t","to":"+306912345678","from":"MyBrand","status":{"name":"DELIVERED","reason":'
    '{"detailedStatus":"Delivered","description":"d"},"updatedDate":"2024-07-10T03:32:32.916Z"},"ttl":3600,'
    '"price":0.035,"originatingService":"Viber","createdAt":"2024-07-10T03:32:30.000Z"}'
)
VOICE_RECEIPT = json.loads(
    '{"messageId":"m","conversationTrackingId":"t","to":"+306912345678","from":"+302100000000",'
    '"status":{"name":"Completed","updatedDate":"2024-07-10T03:32:32.916Z"},"duration":14,"price":0.012,'
    '"originatingService":"Voice"}'
)
BALANCE = json.loads('{"balance":20.5,"currency":{"code":"EUR","name":"Euro","sign":"€"}}')
ROUTEE_ERROR = {"code": "400001009", "developerMessage": "Insufficient Balance"}
VALIDATION_ERROR = {"code": "400000000", "developerMessage": "Validation Error", "properties": {"to": "m"}}
SPRING_401 = json.loads(
    '{"timestamp":"2024-07-10T03:32:32.916Z","status":401,"error":"Unauthorized","message":"Bad credentials",'
    '"path":"/sms"}'
)
OAUTH_401 = {"error": "invalid_token", "error_description": "Access token expired"}
OAUTH_400 = {"error": "unsupported_grant_type", "error_description": "Unsupported grant type"}
# Tracking answers: the reference gives no full example, only "status.status and status.date instead of
# name/updatedDate", so they are the receipt's shape with that status object.
SMS_TRACKING_STATUS = {"status": "Delivered", "date": "2024-07-10T03:32:32.916Z"}

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z$")
ERROR_CODE = re.compile(r"^\d{9}$")


def same_shape(example: Any, actual: Any, optional: frozenset[str] = frozenset(), path: str = "$") -> None:
    """`actual` has exactly `example`'s keys (plus `optional` ones), nested alike, with the same JSON types."""
    if isinstance(example, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        missing = example.keys() - actual.keys()
        extra = actual.keys() - example.keys() - optional
        assert not missing, f"{path}: missing {sorted(missing)}"
        assert not extra, f"{path}: unexpected {sorted(extra)}"
        for key in example:
            same_shape(example[key], actual[key], optional, f"{path}.{key}")
    elif isinstance(example, list):
        assert isinstance(actual, list), f"{path}: expected an array, got {actual!r}"
        for item in actual:
            same_shape(example[0], item, optional, f"{path}[]")
    else:
        assert json_type(actual) == json_type(example), f"{path}: {actual!r} is not like {example!r}"
        if isinstance(example, str) and TIMESTAMP.match(example):
            assert TIMESTAMP.match(actual), f"{path}: {actual!r} is not an ISO-8601 UTC timestamp"


def json_type(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def test_token_response(client: Client) -> None:
    response = client.token_response()
    assert response.status_code == 200
    same_shape(TOKEN, response.json())
    assert response.json()["expires_in"] == 3599  # the default lifetime is one hour


def test_sms_send_response_and_receipt(sim: Simulator, client: Client, receiver: Receiver) -> None:
    response = client.post("/sms", sms_request("+306900000000", f"{receiver.url}/cb", label="otp"))
    assert response.status_code == 200
    same_shape(SMS_SENT, response.json(), optional=frozenset({"label"}))

    wait_until(lambda: sim.pending_receipts() == 0)
    sent, delivered = receiver.json_bodies("/cb")
    same_shape(SMS_RECEIPT, sent)
    same_shape(SMS_RECEIPT, delivered)
    assert delivered["messageId"] == response.json()["trackingId"]
    assert (sent["status"]["name"], delivered["status"]["name"]) == ("Sent", "Delivered")


def test_sms_receipt_without_label_omits_it(sim: Simulator, client: Client, receiver: Receiver) -> None:
    client.post("/sms", sms_request("+306900000000", f"{receiver.url}/cb"))
    wait_until(lambda: sim.pending_receipts() == 0)
    same_shape({k: v for k, v in SMS_RECEIPT.items() if k != "label"}, receiver.json_bodies("/cb")[0])


def test_viber_send_response_and_receipt(sim: Simulator, client: Client, receiver: Receiver) -> None:
    content = {"text": "Hi", "imageURL": "https://x/i.png", "action": {"caption": "Go", "targetUrl": "https://x"}}
    response = client.post("/viber", viber_request("+306900000000", f"{receiver.url}/cb", body=content))
    assert response.status_code == 200
    answer = response.json()
    same_shape(VIBER_SENT, answer)
    assert (answer["imageUrl"], answer["viberAction"], answer["ttl"]) == ("https://x/i.png", content["action"], 3600)

    wait_until(lambda: sim.pending_receipts() == 0)
    delivered, seen = receiver.json_bodies("/cb")
    same_shape(VIBER_RECEIPT, delivered)
    same_shape(VIBER_RECEIPT, seen)
    assert (delivered["status"]["name"], seen["status"]["name"]) == ("DELIVERED", "SEEN")
    assert delivered["trackingId"] == answer["trackingId"]


def test_voice_send_response_and_receipt(sim: Simulator, client: Client, receiver: Receiver) -> None:
    response = client.post("/voice/conversation", voice_request("+306900000000", f"{receiver.url}/cb"))
    assert response.status_code == 200
    assert isinstance(response.json()["trackingId"], str)

    wait_until(lambda: sim.pending_receipts() == 0)
    ringing, completed = receiver.json_bodies("/cb")
    same_shape(VOICE_RECEIPT, ringing)
    same_shape(VOICE_RECEIPT, completed)
    assert completed["conversationTrackingId"] == response.json()["trackingId"]
    assert completed["messageId"] != completed["conversationTrackingId"]


def test_balance(sim: Simulator, client: Client) -> None:
    response = client.get("/accounts/me/balance")
    assert response.status_code == 200
    same_shape(BALANCE, response.json())
    assert response.json()["balance"] == sim.balance


def test_sms_tracking_has_one_element_per_part(sim: Simulator, client: Client, receiver: Receiver) -> None:
    tracking_id = client.post("/sms", sms_request("+306900000000", f"{receiver.url}/cb", body="x" * 200)).json()[
        "trackingId"
    ]
    wait_until(lambda: sim.pending_receipts() == 0)

    response = client.get(f"/sms/tracking/single/{tracking_id}")

    assert response.status_code == 200
    parts = response.json()
    tracking_example = {**SMS_RECEIPT, "status": SMS_TRACKING_STATUS, "body": "b", "createdAt": TIMESTAMP_EXAMPLE}
    for key in ("label", "message", "latency"):
        tracking_example.pop(key)
    for part in parts:
        same_shape(tracking_example, part)
    assert [(p["part"], p["parts"], p["status"]["status"]) for p in parts] == [(1, 2, "Delivered"), (2, 2, "Delivered")]


def test_viber_tracking(sim: Simulator, client: Client, receiver: Receiver) -> None:
    tracking_id = client.post("/viber", viber_request("+306900000400", f"{receiver.url}/cb")).json()["trackingId"]
    wait_until(lambda: sim.pending_receipts() == 0)

    response = client.get(f"/viber/tracking/{tracking_id}")

    assert response.status_code == 200
    answer = response.json()
    example = {k: v for k, v in VIBER_SENT.items() if k not in ("imageUrl", "viberAction")}
    same_shape({**example, "price": 0.035, "createdAt": TIMESTAMP_EXAMPLE}, answer)
    assert answer["status"]["status"] == "DELIVERED"  # digit 4: delivered, never seen


def test_tracking_not_found(client: Client) -> None:
    for path, code in (("/sms/tracking/single/nope", "404005000"), ("/viber/tracking/nope", "404019000")):
        response = client.get(path)
        assert response.status_code == 404
        same_shape(ROUTEE_ERROR, response.json())
        assert response.json()["code"] == code


def test_insufficient_balance_error(client: Client) -> None:
    response = client.post("/sms", sms_request("+306900000050"))
    assert response.status_code == 400
    assert response.json() == ROUTEE_ERROR


def test_validation_error(client: Client) -> None:
    response = client.post("/sms", sms_request("6912345678"))
    assert response.status_code == 400
    same_shape(VALIDATION_ERROR, response.json())
    assert response.json()["code"] == "400000000"
    assert set(response.json()["properties"]) == {"to"}


def test_error_codes_are_nine_digit_strings(client: Client) -> None:
    answers = [
        client.post("/sms", sms_request("+306900000050")),
        client.post("/sms", sms_request("+306900000000", **{"from": "Far Too Long Sender"})),
        client.post("/viber", viber_request("+30690", ttl=5)),
        client.post("/voice/conversation", {}),
        client.post("/sms", sms_request("+306900000090")),  # digit 9: 503 the first time
    ]
    assert [a.status_code for a in answers] == [400, 400, 400, 400, 503]
    assert all(ERROR_CODE.match(a.json()["code"]) for a in answers)
    assert answers[1].json()["code"] == "400005000"
    assert answers[4].headers["Retry-After"].isdigit()


def test_401_bodies(sim: Simulator, client: Client) -> None:
    bad_credentials = client.token_response(auth=("simulator-app", "wrong"))
    no_token = requests_post(f"{sim.base_url}/sms", None)
    client.post("/sms", sms_request("+306900000000"))
    sim.expire_tokens()
    expired = client.post("/sms", sms_request("+306900000000"))
    client._token = None
    refused = client.post("/sms", sms_request("+306900000060"))  # digit 6, with a fresh token
    client._token = None
    refused_again = client.post("/sms", sms_request("+306900000060"))

    for answer in (bad_credentials, no_token, refused, refused_again):
        assert answer.status_code == 401
        same_shape(SPRING_401, answer.json())
    assert expired.status_code == 401
    same_shape(OAUTH_401, expired.json())
    assert (bad_credentials.json()["path"], no_token.json()["path"]) == ("/oauth/token", "/sms")


def test_bad_grant(client: Client) -> None:
    response = client.token_response(data={"grant_type": "password"})
    assert response.status_code == 400
    same_shape(OAUTH_400, response.json())


TIMESTAMP_EXAMPLE = "2024-07-10T03:32:30.000Z"


def requests_post(url: str, body: Any) -> Any:
    return requests.post(url, json=body, timeout=5)
