"""The README's callback receiver, run as written, verifies real callbacks from the local stack.

Its code block is executed with two substitutions only: the secret the stack prints, and a free loopback port
instead of 8080 (the server is started here, on a thread, rather than by its last line).
"""

from __future__ import annotations

import re
import threading
from http.server import HTTPServer
from pathlib import Path

import pytest
import requests

from failover_local.stack import LocalStack, bearer_session
from tests.harness import wait_for

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_receiver() -> str:
    text = README.read_text()
    start = text.index("A receiver (`pip install standardwebhooks`)")
    return re.search(r"```python\n(.*?)```", text[start:], re.S).group(1)


@pytest.fixture(scope="module")
def local():
    stack = LocalStack(port=0, simulator_port=0, time_scale=0.001).start()
    try:
        yield stack, bearer_session(stack.url, "local-app", "local-secret")
    finally:
        stack.stop()


def test_the_readme_receiver_accepts_our_callbacks_and_refuses_a_forged_one(local, capsys):
    stack, session = local
    code = readme_receiver()
    assert "from standardwebhooks" in code and 'Webhook("whsec_...")' in code
    last_line = 'HTTPServer(("", 8080), Receiver).serve_forever()'
    assert last_line in code
    code = code.replace('"whsec_..."', repr(stack.aws.callback_secret("local-app"))).replace(last_line, "")
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    server = HTTPServer(("127.0.0.1", 0), namespace["Receiver"])
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/cb"
    try:
        sms = {"type": "Sms", "order": 1, "from": "MyBank", "to": "+306912300000", "message": {"body": "PIN"}}
        created = session.post(f"{stack.url}/failover", json={"flow": [sms], "callback": {"url": url}})
        assert created.status_code == 200, created.text
        tracking_id = created.json()["trackingId"]
        wait_for(lambda: namespace["newest"].get(tracking_id, 0) >= 1, timeout=30, what="a verified callback")
        assert f"{tracking_id} " in capsys.readouterr().out  # it printed what it accepted

        forged = requests.post(
            url,
            data=b'{"trackingId":"x","status":"Succeeded"}',
            headers={
                "webhook-id": "e",
                "webhook-timestamp": "1",
                "webhook-signature": "v1,AAAA",
                "X-Failover-Sequence": "1",
            },
            timeout=5,
        )
        assert forged.status_code == 401
        assert "x" not in namespace["newest"]
    finally:
        server.shutdown()
        server.server_close()
