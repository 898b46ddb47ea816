"""Scene cuts, fast and thorough, on one labelled clip of each kind (`processors.synthetic.scenes`).

The thorough mode is the reference: it must find exactly the labelled cuts, within +-0.5 s,
except where the reference is known to be blind or fooled (see `reference_cuts`). The fast mode
must find what the reference finds, and measure about the same motion.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from processors.analyzers import scenes
from processors.media import probe
from processors.media.frames import sample
from processors.media.limits import LimitSettings
from processors.media.probe import Packet, probe_media
from processors.synthetic.scenes import KINDS, LabelledClip, labelled_set

LIMITS = LimitSettings()
TOLERANCE_S = 0.5
MOTION_RELATIVE = 0.25  # fast motion within 25 % of the reference's ...
MOTION_ABSOLUTE = 0.002  # ... or within 0.2 % of full scale (still clips have ~0 motion)

Found = tuple[list[float], float]  # (cuts_s, motion)


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, LabelledClip]:
    """One small clip per kind, made once for the module."""
    folder: Path = tmp_path_factory.mktemp("scenes")
    made = labelled_set(folder, width=320, height=180, one_per_kind=True)
    return {clip.kind: clip for clip in made}


@pytest.fixture(scope="module")
def found(clips: dict[str, LabelledClip]) -> Callable[[str, bool], Found]:
    """`scene_cuts` of a kind's clip in one mode, run once per kind and mode."""
    cache: dict[tuple[str, bool], Found] = {}

    def run(kind: str, thorough: bool) -> Found:
        if (kind, thorough) not in cache:
            clip = clips[kind]
            info = probe(clip.path, LIMITS)
            m = scenes.scene_cuts(clip.path, info, LIMITS, thorough=thorough)
            cache[kind, thorough] = (list(m.cuts_s), m.motion)
        return cache[kind, thorough]

    return run


def reference_cuts(clip: LabelledClip) -> list[float]:
    """What the reference reports on a clip: the labelled cuts, with two known exceptions."""
    if clip.kind == "chroma_cut":
        # ffmpeg's scdet compares the luma plane only (YUV input), so a cut that changes only
        # the colour is invisible to the reference; fast mode must do no worse (nor better).
        return []
    if clip.kind == "flash":
        # one bright frame differs from both of its neighbours as much as a cut does, and the
        # reference's rule reports it (the frame after is within MIN_SHOT_S): a false cut.
        return sorted([*clip.cuts_s, *clip.decoys_s])
    return clip.cuts_s


def assert_matches(found: list[float], expected: list[float]) -> None:
    """Every expected cut found within the tolerance, once, and nothing else (F1 == 1)."""
    unused = list(found)
    for t in expected:
        near = [f for f in unused if abs(f - t) <= TOLERANCE_S]
        assert near, f"no cut found near {t:.3f} s: found {found}, expected {expected}"
        unused.remove(min(near, key=lambda f: abs(f - t)))
    assert not unused, f"cuts {unused} are none: found {found}, expected {expected}"


def test_every_kind_has_a_clip_with_frame_accurate_labels(clips: dict[str, LabelledClip]) -> None:
    assert set(clips) == set(KINDS)
    for clip in clips.values():
        assert clip.path.stat().st_size > 0
        assert all(abs(t * 30 - round(t * 30)) < 0.01 for t in clip.cuts_s)
        info = probe(clip.path, LIMITS)
        assert info.duration_s is not None and 6 <= info.duration_s <= 12.1


@pytest.mark.parametrize("kind", KINDS)
def test_reference_finds_the_labelled_cuts(
    kind: str, clips: dict[str, LabelledClip], found: Callable[[str, bool], Found]
) -> None:
    cuts, _ = found(kind, True)
    assert_matches(cuts, reference_cuts(clips[kind]))


@pytest.mark.parametrize("kind", KINDS)
def test_fast_finds_the_labelled_cuts_as_the_reference_does(
    kind: str, clips: dict[str, LabelledClip], found: Callable[[str, bool], Found]
) -> None:
    cuts, _ = found(kind, False)
    assert_matches(cuts, reference_cuts(clips[kind]))


@pytest.mark.parametrize("kind", KINDS)
def test_fast_motion_is_close_to_the_reference(
    kind: str, found: Callable[[str, bool], Found]
) -> None:
    _, fast = found(kind, False)
    _, reference = found(kind, True)
    assert abs(fast - reference) <= max(MOTION_ABSOLUTE, MOTION_RELATIVE * reference), (
        f"fast motion {fast:.5f}, reference {reference:.5f}"
    )


def gop(sizes: list[int], start: float = 0.0) -> list[Packet]:
    """Frames between two keyframes, 30 fps, of the given sizes."""
    return [Packet(start + (i + 1) / 30, size, False) for i, size in enumerate(sizes)]


def test_a_packet_that_opens_a_new_shot_is_a_spike() -> None:
    p_and_b = [3000, 300, 300, 300] * 6  # P then three B frames, as x264 writes them
    cut = [*p_and_b[:9], 20_000, *p_and_b[10:]]
    assert scenes.spikes(gop(cut), key_size=30_000) == [9]
    assert scenes.spikes(gop(p_and_b), key_size=30_000) == []


def test_frames_that_grow_together_are_no_spike() -> None:
    """A dissolve's or a fast pan's frames are all large: none stands out from its neighbours."""
    dissolve = [3000, 300, 300, 300, 6000, 300, 9000, 300, 14_000, 300, 9000, 300, 5000, 300]
    assert scenes.spikes(gop(dissolve), key_size=30_000) == []
    small = [3000, 300, 300, 300, 6000, 300, 300, 300, 3000]  # isolated, but a P-frame's size
    assert scenes.spikes(gop(small), key_size=30_000) == []


def test_spikes_locate_cuts_without_a_decode(clips: dict[str, LabelledClip]) -> None:
    """Hard cuts inside GOPs between textured shots are found from the packet sizes alone, in
    the first pass's time, no more than a B-frame run (3 frames) after the labelled frame."""
    clip = clips["cut_in_gop"]
    info, packets = probe_media(clip.path, LIMITS)
    first = sample(clip.path, info, 4, LIMITS, taps=scenes.taps_for(info))
    chains = scenes.parse_timeline(first.log).chains
    keys = chains[min(chains)]  # the keyframes' chain comes first
    found = [t for ts in scenes._spikes_by_pair(keys, packets, 0.5 / 30).values() for t in ts]
    inside = [t for t in clip.cuts_s if all(abs(t - k) > 0.5 / 30 for k, _ in keys)]
    assert inside and found
    for t in found:
        assert any(-0.01 <= t - label <= 3.5 / 30 for label in inside), (found, inside)
    m = scenes.scene_cuts(clip.path, info, LIMITS, first_pass=first, packets=packets)
    assert m.cuts_from_packets == len(found)
    assert_matches(m.cuts_s, clip.cuts_s)


def test_spikes_common_in_alike_gops_are_not_trusted() -> None:
    """An encoder that writes intra frames on a schedule makes spikes in GOPs without cuts: the
    packet sizes then tell nothing, and the differing GOPs are decoded."""
    keys = [(2.0 * i, 8.0 if i == 2 else 0.5) for i in range(5)]
    packets: list[Packet] = []
    for i in range(4):
        packets.append(Packet(2.0 * i, 30_000, True))
        packets += gop([300] * 29 + [25_000] + [300] * 29, start=2.0 * i)
    packets.append(Packet(8.0, 30_000, True))
    found = scenes._spikes_by_pair(keys, packets, 0.5 / 30)
    assert all(found[i] for i in range(1, 5))  # every GOP holds one
    alike = [found[i] for i in range(1, 5) if i not in scenes.flagged_pairs(keys)]
    assert sum(map(bool, alike)) > scenes.SPIKES_UNTRUSTED * len(alike)
