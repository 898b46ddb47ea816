"""The review page's theme meets WCAG 2.2 AA contrast, and the HTML checker can fail."""

from __future__ import annotations

import re

import pytest

from api.routers.review import PAGES
from tests.htmlcheck import problems

CSS = (PAGES / "static" / "review.css").read_text()
AA_TEXT = 4.5  # WCAG 2.2 1.4.3, normal-size text


def luminance(hex_colour: str) -> float:
    """WCAG relative luminance of #rrggbb."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def theme_pairs() -> dict[str, tuple[str, str]]:
    colours = dict(re.findall(r"--([a-z]+-(?:fg|bg)):\s*(#[0-9a-fA-F]{6})", CSS))
    names = {k.rsplit("-", 1)[0] for k in colours}
    return {n: (colours[f"{n}-fg"], colours[f"{n}-bg"]) for n in sorted(names)}


def test_the_contrast_formula_matches_wcag_examples() -> None:
    assert contrast("#000000", "#ffffff") == pytest.approx(21.0)
    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the AA grey


def test_every_text_and_background_pair_of_the_theme_meets_aa() -> None:
    pairs = theme_pairs()
    assert len(pairs) >= 10 and "page" in pairs and "fail" in pairs
    low = {n: round(contrast(fg, bg), 2) for n, (fg, bg) in pairs.items()}
    assert {n: c for n, c in low.items() if c < AA_TEXT} == {}


def test_the_focus_outline_stands_out_of_the_page() -> None:
    focus = re.search(r"--focus:\s*(#[0-9a-fA-F]{6})", CSS)
    assert focus is not None
    assert contrast(focus[1], theme_pairs()["page"][1]) >= 3.0  # WCAG 1.4.11, non-text


def test_every_colour_rule_uses_the_theme() -> None:
    """No rule sets a literal colour outside :root, so the pairs above are all there is."""
    body = CSS.split("}", 1)[1]
    assert re.findall(r"#[0-9a-fA-F]{3,6}\b", body) == []


@pytest.mark.parametrize(
    ("html", "problem"),
    [
        ("<html><body></body></html>", "no <!DOCTYPE html>"),
        ("<!DOCTYPE html><html><p></p></html>", "<html> has no lang"),
        ('<!DOCTYPE html><html lang="en"><img src="x"></html>', "has no alt text"),
        ('<!DOCTYPE html><html lang="en"><input id="q"></html>', "has no label"),
        ('<!DOCTYPE html><html lang="en"><b id="a"></b><i id="a"></i></html>', "duplicate id"),
        ('<!DOCTYPE html><html lang="en"><div><span></div></html>', "</div> closes span"),
    ],
)
def test_the_html_checker_finds_what_it_looks_for(html: str, problem: str) -> None:
    assert any(problem in p for p in problems(html)), problems(html)
