"""kill -9 while a slow message at the head of a partition runs behind quick ones: nothing lost.

faust-streaming 0.15.3 committed past a running message once the ones behind it were acked
(streams.offsets has the story); killing the worker then lost it for good and its media stayed
`processing`. Each test runs a stack on a broker of its own whose topics have ONE partition, so
a slow clip and the quick images after it share the partition: the images finish and are
acked while the clip is still analysed, faust's commit loop runs, the worker is killed during
the clip, and the restarted worker must finish every media, once, in every lake view.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from processors.config import KafkaSettings
from processors.media import ffmpeg_exe
from processors.synthetic.samples import make_image
from schemas import topics
from tests.e2e.conftest import Deployment, one_partition_stack
from tests.e2e.helpers import TABLES, committed_offsets, lake_counts, upload, wait_final

pytestmark = pytest.mark.slow

GROUP = KafkaSettings().consumer_group  # the worker's consumer group by default
UPLOADS = (topics.MEDIA_UPLOADED, 0)  # every topic has only partition 0
ANALYSES = (topics.MEDIA_ANALYSES, 0)
COMMIT_INTERVAL_S = 2.8  # faust's broker_commit_interval (the app keeps the default)
QUICK = 2  # images that finish behind the slow clip


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 90 s 1080p clip dear to decode (its analysis decodes every frame) and a quick image."""
    folder = tmp_path_factory.mktemp("ack_gap")
    return {
        "slow": loop_video(grainy_clip(folder / "grain.mp4"), folder / "slow.mp4", times=15),
        "image": make_image(folder / "image.jpg", width=640, height=640),
    }


def grainy_clip(dst: Path) -> Path:
    """6 s of 1080p30 test pattern with grain at 6 Mbit/s: a frame costs the decoder what a
    camera's does (flat synthetic frames decode so fast that a 90 s clip was done in 5 s)."""
    video = "testsrc2=s=1920x1080:r=30:d=6,noise=alls=10:allf=t"
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", video]
    cmd += ["-c:v", "libx264", "-preset", "superfast", "-b:v", "6M", "-g", "60"]
    cmd += ["-pix_fmt", "yuv420p", str(dst)]
    subprocess.run(cmd, check=True)
    return dst


def loop_video(src: Path, dst: Path, times: int) -> Path:
    """Repeat a clip without re-encoding it: a long clip in a fraction of a second."""
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y"]
    cmd += ["-stream_loop", str(times - 1), "-i", str(src), "-c", "copy", str(dst)]
    subprocess.run(cmd, check=True)
    return dst


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Deployment]:
    """Worker and API on a broker of their own whose topics have one partition each."""
    # a pool process for the images while the clip's check and analysis hold two; the clip
    # decoded in full (thorough), so that it is still running at the kill however fast the
    # default keyframe-first analysis gets
    env = {"REELSCOPE_WORKER__CHECK_PROCESSES": "3", "REELSCOPE_ANALYZER__PROFILE": "thorough"}
    with one_partition_stack(tmp_path, env) as deployment:
        yield deployment


def test_fresh_partition_keeps_the_running_head(stack: Deployment, media: dict[str, Path]) -> None:
    """Nothing committed yet (faust skipped its check entirely at committed None/0)."""
    kill_during_slow_head(stack, media, earlier=0)


def test_partition_with_earlier_commits_keeps_the_running_head(
    stack: Deployment, media: dict[str, Path]
) -> None:
    """Commits already made (faust let one running message at the head slip)."""
    kill_during_slow_head(stack, media, earlier=3)


def kill_during_slow_head(stack: Deployment, media: dict[str, Path], earlier: int) -> None:
    """Finish `earlier` images, then kill the worker while the clip runs ahead of quick ones."""
    done_before = finish(stack, media["image"], earlier)
    if earlier:
        got = settle_commit(stack.bootstrap, UPLOADS, earlier, 3 * COMMIT_INTERVAL_S)
        assert got == earlier, "the earlier images were never committed"
    slow_offset = earlier  # every upload so far went to the one partition
    slow = upload(stack, media["slow"])
    quick = finish(stack, media["image"], QUICK)
    at_kill = kill_after_commit(stack, slow, analysed=earlier + QUICK)
    stack.start_worker()

    ids = [*done_before, slow, *quick]
    try:
        finals = [wait_final(stack, media_id, 90)["status"] for media_id in ids]
    except AssertionError as e:
        msg = (
            f"{e}\nat the kill the group had committed {at_kill} on {UPLOADS[0]}, and the clip "
            f"still running was at offset {slow_offset}"
        )
        raise AssertionError(msg) from e
    assert finals == ["done"] * len(ids)
    assert at_kill <= slow_offset, f"committed {at_kill} past the running clip at {slow_offset}"
    assert lake_counts(stack, ids, 30) == dict.fromkeys(TABLES, len(ids))


def finish(stack: Deployment, image: Path, n: int) -> list[str]:
    """Upload `n` copies of the image and wait until each is done."""
    ids = [upload(stack, image) for _ in range(n)]
    for media_id in ids:
        assert wait_final(stack, media_id, 60)["status"] == "done"
    return ids


def kill_after_commit(stack: Deployment, slow: str, analysed: int) -> int:
    """kill -9 once faust has committed what it will; return the upload offset it committed.

    faust commits every few seconds. Once it has committed the first `analysed` analyses, it
    has also decided on the uploads of those media, which were acked before they were joined.
    """
    started = time.monotonic()
    got = settle_commit(stack.bootstrap, ANALYSES, analysed, 3 * COMMIT_INTERVAL_S)
    at_kill = committed(stack.bootstrap, UPLOADS)
    stack.kill_worker()
    time.sleep(0.5)  # a result published just before the kill reaches the API
    assert status(stack, slow) == "processing", (
        f"the clip was done at the kill (analyses committed to {got} after "
        f"{time.monotonic() - started:.1f} s): the test proves nothing; make the clip slower"
    )
    return at_kill


def committed(bootstrap: str, tp: tuple[str, int]) -> int:
    """The worker group's committed offset on `tp` (0 when none yet)."""
    return max(committed_offsets(bootstrap, GROUP).get(tp, 0), 0)


def settle_commit(bootstrap: str, tp: tuple[str, int], end: int, deadline_s: float) -> int:
    """Poll the committed offset on `tp` until it reaches `end` or `deadline_s` passes."""
    deadline = time.monotonic() + deadline_s
    offset = committed(bootstrap, tp)
    while offset < end and time.monotonic() < deadline:
        time.sleep(0.25)
        offset = committed(bootstrap, tp)
    return offset


def status(stack: Deployment, media_id: str) -> str:
    r = httpx.get(f"{stack.url}/v1/media/{media_id}", timeout=5)
    r.raise_for_status()
    found: str = r.json()["status"]
    return found
