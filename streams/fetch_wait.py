"""How long a consumer's fetch may wait for records: faust's worker consumer too.

A fetch with no records to return waits up to `fetch_max_wait_ms` for some. Kafka answers it as
soon as records arrive; Tansu (the embedded broker, and the tests') holds it for the whole wait
even when records arrive meanwhile. Measured on Tansu: a record produced while the consumer
waits is delivered after 3-330 ms with aiokafka's default 500 ms, 2-48 ms with 100 ms, 2-25 ms
with 20 ms. faust's worker consumer waits 1500 ms, hard-coded in
`faust/transport/drivers/aiokafka.py` (`_create_worker_consumer`), and a media crosses two faust
hops (input -> stages, checks -> result) and the API's follower: an image's 0.3 s of work took
1.4 s from upload to `done` on the embedded stack. `install` makes faust's consumer use
`kafka.fetch_wait_ms`, as every consumer of ours does.

Every idle fetch costs Tansu CPU, taken from the decoders on a small machine. The embedded stack
at rest (2 cores, `/proc` CPU over 20 s): at 50 ms the broker used 0.195 of a core, the worker
0.038 and the API 0.016; at 100 ms 0.112, 0.027 and 0.009; at 200 ms 0.081, 0.020 and 0.007.
The default, 100 ms, took bench_e2e's 16:9 burst from 9.94x to 10.59x real time per core and
images from 3.54 to 3.86/s per core, with the idle image p95 at 0.27 s (0.28 s at 50 ms).
"""

from __future__ import annotations

from typing import Any

from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread

_ORIGINAL = AIOKafkaConsumerThread._create_worker_consumer


def install(wait_ms: int) -> None:
    """Make the worker consumers faust creates from now on in this process wait `wait_ms`."""

    def create(self: AIOKafkaConsumerThread, transport: Any) -> Any:
        consumer = _ORIGINAL(self, transport)
        consumer._fetch_max_wait_ms = wait_ms  # read by start(); aiokafka has no setter
        return consumer

    AIOKafkaConsumerThread._create_worker_consumer = create  # type: ignore[method-assign]
