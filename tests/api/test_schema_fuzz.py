"""schemathesis over the API's own OpenAPI schema, with valid keys, over HTTP: no request it
can make is a 5xx, and every error is our JSON shape with a `code` and a `hint`.

Both kinds of case are sent: requests the schema allows (they must not break anything) and
requests it forbids (they must be refused in words). Derandomized, so CI and a laptop make the
same requests; `pytest -s` prints the count per status.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from processors.storage import LocalStore
from streams.broker import EmbeddedBroker
from tests.api.conftest import Api, make_settings, running_api

EXAMPLES = 15  # per operation and mode
KEY = "all-key"  # every scope; admin, so no brand limits what is generated
# both ways of sending a key, so a generated security header never replaces the valid one
KEY_HEADERS = {"X-API-Key": KEY, "Authorization": f"Bearer {KEY}"}


@pytest.fixture(scope="module")
def fuzzed(broker: EmbeddedBroker, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """The test API with a rate limit the fuzzer does not reach (quotas have their own tests),
    so every case meets the route it was made for."""
    root = tmp_path_factory.mktemp("fuzzed")
    store = LocalStore(root / "bucket")
    unlimited = {"default_rate_per_s": 1e6, "default_burst": 10**6}
    settings = make_settings(broker.bootstrap, store.url, api=unlimited)
    with running_api(settings, store, root / "uploads") as running:
        yield running


@pytest.fixture(scope="module")
def schema(fuzzed: Api) -> Any:
    with fuzzed.client(KEY) as client:
        document = client.get("/openapi.json").raise_for_status().json()
    loaded = schemathesis.openapi.from_dict(document)
    loaded.config.update(base_url=fuzzed.url)
    return loaded


def operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def check(response: Any, statuses: Counter[int], label: str) -> None:
    statuses[response.status_code] += 1
    assert response.status_code < 500, f"{label}: {response.status_code} {response.text[:300]}"
    if response.status_code >= 400:
        body = response.json()
        error = body.get("error") if isinstance(body, dict) else None
        assert isinstance(error, dict), f"{label}: {response.status_code} {response.text[:300]}"
        assert error.get("code") and error.get("hint"), f"{label}: {error}"


def fuzz(operation: Any, mode: GenerationMode, statuses: Counter[int]) -> None:
    """Send `EXAMPLES` cases of one operation; raise Unsatisfiable if it has none of `mode`."""
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(operation.as_strategy(generation_mode=mode))
    def one(case: Any) -> None:
        check(case.call(headers=KEY_HEADERS, timeout=20), statuses, label)

    one()


@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_no_request_the_schema_allows_or_forbids_is_a_server_error(
    schema: Any, mode: GenerationMode
) -> None:
    statuses: Counter[int] = Counter()
    plain: list[str] = []
    for operation in operations(schema):
        try:
            fuzz(operation, mode, statuses)
        except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
            assert mode is GenerationMode.NEGATIVE, operation.path
            plain.append(f"{operation.method.upper()} {operation.path}")
    print(f"{mode.value}: {dict(sorted(statuses.items()))}; nothing to negate: {plain}")
    assert sum(statuses.values()) >= 100
