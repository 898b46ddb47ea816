"""How many partitions `reelscope up` gives its topics."""

from __future__ import annotations

import pytest

from processors.config import Settings
from streams.supervisor import EMBEDDED_PARTITIONS, topic_partitions


def test_the_embedded_broker_gets_few_partitions_unless_told(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("REELSCOPE_KAFKA__PARTITIONS", raising=False)
    monkeypatch.setenv("REELSCOPE_KAFKA__FETCH_WAIT_MS", "100")  # another kafka field set
    settings = Settings()
    assert topic_partitions(settings, embedded=True) == EMBEDDED_PARTITIONS < 6
    assert topic_partitions(settings, embedded=False) == settings.kafka.partitions == 6
    monkeypatch.setenv("REELSCOPE_KAFKA__PARTITIONS", "6")
    assert topic_partitions(Settings(), embedded=True) == 6  # said, even to the default
