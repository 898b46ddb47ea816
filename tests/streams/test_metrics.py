"""The worker's series exist from start-up, at zero, so that alerts see the first event."""

from __future__ import annotations

import pytest
from prometheus_client import REGISTRY

from schemas.events import INPUT_EVENT
from streams import metrics
from streams.codec import DECODE_ERRORS, DecodeError, decode


def test_every_dead_letter_kind_is_exported_at_zero_from_the_start() -> None:
    for stage, error_type in metrics.DEADLETTER_KINDS:
        labels = {"stage": stage, "error_type": error_type}
        value = REGISTRY.get_sample_value("reelscope_deadletters_total", labels)
        assert value is not None, f"no series for {labels}"


@pytest.mark.parametrize("value", [b"", b"{not json", b'{"schema": "reelscope.nothing/1"}'])
def test_malformed_input_dead_letters_with_a_kind_the_worker_exports(value: bytes) -> None:
    with pytest.raises(DecodeError) as caught:
        decode(INPUT_EVENT, value)
    assert caught.value.error_type in DECODE_ERRORS
    assert ("intake", caught.value.error_type) in metrics.DEADLETTER_KINDS
