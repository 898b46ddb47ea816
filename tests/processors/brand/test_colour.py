"""CIEDE2000 against the published test data, sRGB -> Lab, and the 32³ lookup table."""

from __future__ import annotations

import numpy as np
import pytest

from processors.brand.colour import (
    bin_index,
    build_lut,
    ciede2000,
    hex_to_rgb,
    rgb_to_hex,
    srgb_to_lab,
)

# Sharma, Wu, Dalal (2005), Table 1: L1 a1 b1, L2 a2 b2, ΔE00 (all 34 pairs).
SHARMA = [
    (50.0, 2.6772, -79.7751, 50.0, 0.0, -82.7485, 2.0425),
    (50.0, 3.1571, -77.2803, 50.0, 0.0, -82.7485, 2.8615),
    (50.0, 2.8361, -74.0200, 50.0, 0.0, -82.7485, 3.4412),
    (50.0, -1.3802, -84.2814, 50.0, 0.0, -82.7485, 1.0000),
    (50.0, -1.1848, -84.8006, 50.0, 0.0, -82.7485, 1.0000),
    (50.0, -0.9009, -85.5211, 50.0, 0.0, -82.7485, 1.0000),
    (50.0, 0.0, 0.0, 50.0, -1.0, 2.0, 2.3669),
    (50.0, -1.0, 2.0, 50.0, 0.0, 0.0, 2.3669),
    (50.0, 2.49, -0.001, 50.0, -2.49, 0.0009, 7.1792),
    (50.0, 2.49, -0.001, 50.0, -2.49, 0.001, 7.1792),
    (50.0, 2.49, -0.001, 50.0, -2.49, 0.0011, 7.2195),
    (50.0, 2.49, -0.001, 50.0, -2.49, 0.0012, 7.2195),
    (50.0, -0.001, 2.49, 50.0, 0.0009, -2.49, 4.8045),
    (50.0, -0.001, 2.49, 50.0, 0.001, -2.49, 4.8045),
    (50.0, -0.001, 2.49, 50.0, 0.0011, -2.49, 4.7461),
    (50.0, 2.5, 0.0, 50.0, 0.0, -2.5, 4.3065),
    (50.0, 2.5, 0.0, 73.0, 25.0, -18.0, 27.1492),
    (50.0, 2.5, 0.0, 61.0, -5.0, 29.0, 22.8977),
    (50.0, 2.5, 0.0, 56.0, -27.0, -3.0, 31.9030),
    (50.0, 2.5, 0.0, 58.0, 24.0, 15.0, 19.4535),
    (50.0, 2.5, 0.0, 50.0, 3.1736, 0.5854, 1.0000),
    (50.0, 2.5, 0.0, 50.0, 3.2972, 0.0, 1.0000),
    (50.0, 2.5, 0.0, 50.0, 1.8634, 0.5757, 1.0000),
    (50.0, 2.5, 0.0, 50.0, 3.2592, 0.3350, 1.0000),
    (60.2574, -34.0099, 36.2677, 60.4626, -34.1751, 39.4387, 1.2644),
    (63.0109, -31.0961, -5.8663, 62.8187, -29.7946, -4.0864, 1.2630),
    (61.2901, 3.7196, -5.3901, 61.4292, 2.2480, -4.9620, 1.8731),
    (35.0831, -44.1164, 3.7933, 35.0232, -40.0716, 1.5901, 1.8645),
    (22.7233, 20.0904, -46.6940, 23.0331, 14.9730, -42.5619, 2.0373),
    (36.4612, 47.8580, 18.3852, 36.2715, 50.5065, 21.2231, 1.4146),
    (90.8027, -2.0831, 1.4410, 91.1528, -1.6435, 0.0447, 1.4441),
    (90.9257, -0.5406, -0.9208, 88.6381, -0.8985, -0.7239, 1.5381),
    (6.7747, -0.2908, -2.4247, 5.8714, -0.0985, -2.2286, 0.6377),
    (2.0776, 0.0795, -1.1350, 0.9033, -0.0636, -0.5514, 0.9082),
]


@pytest.mark.parametrize("row", SHARMA, ids=[f"pair{i + 1}" for i in range(len(SHARMA))])
def test_ciede2000_matches_sharma_pair(row: tuple[float, ...]) -> None:
    assert float(ciede2000(row[0:3], row[3:6])) == pytest.approx(row[6], abs=1e-4)


def test_ciede2000_is_vectorised_and_symmetric() -> None:
    table = np.array(SHARMA)
    forward = ciede2000(table[:, 0:3], table[:, 3:6])
    backward = ciede2000(table[:, 3:6], table[:, 0:3])
    assert forward.shape == (len(SHARMA),)
    np.testing.assert_allclose(forward, table[:, 6], atol=1e-4)
    np.testing.assert_allclose(forward, backward, atol=1e-9)


def test_srgb_to_lab_reference_colours() -> None:
    np.testing.assert_allclose(srgb_to_lab([255, 255, 255]), [100, 0, 0], atol=1e-3)
    np.testing.assert_allclose(srgb_to_lab([0, 0, 0]), [0, 0, 0], atol=1e-6)
    np.testing.assert_allclose(srgb_to_lab([255, 0, 0]), [53.2408, 80.0925, 67.2032], atol=1e-3)


def test_hex_round_trip_and_bad_hex() -> None:
    assert hex_to_rgb("#E4002B") == (228, 0, 43)
    assert rgb_to_hex((228, 0, 43)) == "#E4002B"
    with pytest.raises(ValueError, match="not #RRGGBB"):
        hex_to_rgb("#FFF")


def test_lookup_table_agrees_with_direct_ciede2000() -> None:
    palette = ["#E4002B", "#FFFFFF", "#111111", "#FFC72C", "#0033A0"]
    lut = build_lut(palette)
    bgr = np.random.default_rng(0).integers(0, 256, (1, 20_000, 3), dtype=np.uint8)
    lab = srgb_to_lab(bgr[0, :, ::-1].astype(np.float64))
    direct = ciede2000(lab[:, None, :], lut.palette_lab[None, :, :])
    error = np.abs(lut.min_de[bin_index(bgr)[0]] - direct.min(axis=1))
    assert error.mean() < 0.6
    assert np.percentile(error, 99) < 2.0
    assert error.max() < 10.0
    nearest = lut.nearest[bin_index(bgr)[0]]
    assert (nearest == direct.argmin(axis=1)).mean() > 0.97


def test_lookup_table_puts_exact_brand_colours_at_zero() -> None:
    lut = build_lut(["#E4002B", "#FFFFFF"])
    pixels = np.array([[[43, 0, 228], [255, 255, 255], [87, 139, 46]]], np.uint8)  # BGR
    de = lut.min_de[bin_index(pixels)][0]
    assert de[0] < 1.5 and de[1] < 1.5
    assert de[2] > 30
    assert list(lut.nearest[bin_index(pixels)][0][:2]) == [0, 1]


def test_empty_palette_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one colour"):
        build_lut([])
