"""Truncated and bit-flipped media, made by hypothesis from valid files: every one is checked
and analysed as the worker does (`processors.inspect.inspect` in a confined pool child), and
ends as a result — done, or failed with a sentence — within the time and memory we promise.

The examples are derandomized, so a failure here is the same failure on every machine; the
seed of a failing case is in hypothesis' report.
"""

from __future__ import annotations

import resource
import time
from functools import partial
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from processors.inspect import Inspection, inspect
from processors.media.limits import LimitSettings
from processors.pool import RenewingPool
from processors.synthetic import events as make
from processors.synthetic import samples

LIMITS = LimitSettings(decode_timeout_s=10)
SECONDS = 5.0  # the bound per hostile file
MEMORY_MB = 512
EXAMPLES = 25  # per kind of file


@pytest.fixture(scope="module")
def originals(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("fuzz")
    video = samples.make_video(folder / "v.mp4", width=160, height=90, seconds=2, cuts=1)
    still = {
        fmt: samples.make_image(folder / f"i.{fmt}", width=160, height=120, fmt=fmt)
        for fmt in ("jpg", "png")
    }
    return {
        "video/mp4": video.read_bytes(),
        "image/jpeg": still["jpg"].read_bytes(),
        "image/png": still["png"].read_bytes(),
    }


@pytest.fixture(scope="module")
def pool() -> RenewingPool:
    return RenewingPool(1)


def peak_rss_mb() -> float:
    """The highest resident size of this pool child and the decoders it has waited for."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, children) / 1024


def inspect_and_measure(path: Path, ctype: str) -> tuple[Inspection, float, float]:
    event = make.uploaded(content_type=ctype, media_kind=ctype.split("/")[0])
    started = time.perf_counter()
    result = inspect(path, event, None, [], LIMITS, 4, "fuzz", analyze=True)
    return result, time.perf_counter() - started, peak_rss_mb()


def mutate(data: bytes, cut: float | None, flips: list[tuple[float, int]]) -> bytes:
    out = bytearray(data[: max(1, int(len(data) * cut))] if cut is not None else data)
    for where, bit in flips:
        out[int(where * (len(out) - 1))] ^= 1 << bit
    return bytes(out)


MUTATIONS = st.tuples(
    st.one_of(st.none(), st.floats(0.0, 0.999)),
    st.lists(st.tuples(st.floats(0.0, 1.0), st.integers(0, 7)), max_size=24),
)


@pytest.mark.parametrize("ctype", ["video/mp4", "image/jpeg", "image/png"])
def test_damaged_files_end_as_results_in_time_and_memory(
    ctype: str, originals: dict[str, bytes], pool: RenewingPool, tmp_path: Path
) -> None:
    outcomes: dict[str, int] = {}

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )
    @given(MUTATIONS)
    def one(mutation: tuple[float | None, list[tuple[float, int]]]) -> None:
        path = tmp_path / "damaged"
        path.write_bytes(mutate(originals[ctype], *mutation))
        future = pool.submit(partial(inspect_and_measure, path, ctype))
        result, seconds, rss = future.result(timeout=60)
        check = result.check
        assert check.status in ("done", "failed")
        if check.status == "failed":
            assert check.error and len(check.error) > 10, check.error
        if result.analysis is None:
            assert result.error, "no analysis and no reason"
        assert seconds < SECONDS, f"{seconds:.1f} s for {mutation}"
        assert rss < MEMORY_MB, f"{rss:.0f} MB for {mutation}"
        outcomes[check.status] = outcomes.get(check.status, 0) + 1
        worst[0], worst[1] = max(worst[0], seconds), max(worst[1], rss)

    worst = [0.0, 0.0]
    one()
    print(f"{ctype}: {outcomes}, slowest {worst[0]:.2f} s, peak {worst[1]:.0f} MB")
    assert outcomes.get("failed", 0) > 0  # the damage was real: some files could not be read
