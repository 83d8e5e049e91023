"""The OpenAPI document (GET /openapi.json) against the live local stack, with schemathesis.

Every operation gets valid and invalid requests (bounded, with a fixed seed). No answer may be a 5xx, and
every answer must match the schema of its status code. GET /docs (Swagger UI, from a package's assets) is the
local stack's own page.
"""

from __future__ import annotations

from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from failover_local.simulator import Delays
from failover_local.stack import LocalStack, bearer_session

EXAMPLES = {GenerationMode.POSITIVE: 40, GenerationMode.NEGATIVE: 30}  # per operation: the run stays well under 60 s
OPERATIONS = {
    ("POST", "/failover"),
    ("POST", "/failover/tracking"),
    ("GET", "/failover/tracking/{trackingId}"),
    ("POST", "/failover/{trackingId}/cancel"),
    ("POST", "/callbacks/redeliver"),
}


@pytest.fixture(scope="module")
def live():
    stack = LocalStack(
        port=0, simulator_port=0, time_scale=0.01, simulator_options={"delays": Delays(first=40.0, between=10.0)}
    ).start()
    session = bearer_session(stack.url, "local-app", "local-secret")
    try:
        yield stack, session
    finally:
        session.close()
        stack.stop()


def test_openapi_document_is_public_and_describes_every_route(live):
    stack, _ = live
    response = requests.get(f"{stack.url}/openapi.json", timeout=10)  # no token
    assert response.status_code == 200
    document = response.json()
    assert document["openapi"].startswith("3.")
    operations = {(m.upper(), path) for path, ops in document["paths"].items() for m in ops}
    assert operations == OPERATIONS
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    for path, ops in document["paths"].items():
        for method, operation in ops.items():
            assert "200" in operation["responses"], (method, path)
            assert "401" in operation["responses"], (method, path)
            assert "422" not in operation["responses"] or path == "/failover", (method, path)


class _Assets(HTMLParser):
    """Every URL a page names in src= or href=."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value for name, value in attrs if name in ("src", "href") and value]


def test_swagger_ui_works_offline(live):
    """Issue 17: /docs loaded Swagger UI from a CDN, so it was blank on a machine without the internet."""
    stack, _ = live
    response = requests.get(f"{stack.url}/docs", timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/html")
    page = _Assets()
    page.feed(response.text)
    assert len(page.urls) >= 3, page.urls  # the stylesheet, the bundle, the initializer
    for url in page.urls:
        assert not urlsplit(url).netloc and not urlsplit(url).scheme, f"{url}: an external host"
        asset = requests.get(urljoin(f"{stack.url}/docs", url), timeout=10)
        assert asset.status_code == 200, url
        assert asset.content, url
    initializer = requests.get(f"{stack.url}/docs/swagger-initializer.js", timeout=10).text
    assert '"/openapi.json"' in initializer
    assert "SwaggerUIBundle" in requests.get(f"{stack.url}/docs/swagger-ui-bundle.js", timeout=10).text
    assert requests.get(f"{stack.url}/docs/nothing.js", timeout=10).status_code == 404
    assert requests.get(f"{stack.url}/docs/..%2F__init__.py", timeout=10).status_code == 404


@pytest.mark.timeout(240)
def test_no_server_error_and_every_answer_matches_the_schema(live):
    stack, session = live
    schema = schemathesis.openapi.from_url(f"{stack.url}/openapi.json", timeout=10)
    auth = {"Authorization": session.headers["Authorization"]}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} == OPERATIONS
    for operation in operations:
        for mode, examples in EXAMPLES.items():

            @settings(
                max_examples=examples,
                derandomize=True,  # a fixed seed: the same requests on every run
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case):
                case.call_and_validate(
                    base_url=stack.url,
                    headers=auth,
                    checks=[not_a_server_error, response_schema_conformance],
                    timeout=10,
                )

            check()
