"""What each platform asks of an AI-generated or AI-altered asset when it is published, part of
the platform spec table (`PLATFORM_SPECS_VERSION`). Stated for 2026-12; sources, with what
could be checked here (the search tool's stored pages) and what could not:

- TikTok: creators must label realistic AI-generated content (the "AI-generated content"
  setting when posting); since 2024-05-09 TikTok labels uploads carrying C2PA Content
  Credentials automatically. TikTok newsroom "Partnering with our industry to advance AI
  transparency and literacy" and Help Center "About AI-generated content": not re-checked here;
  the auto-labelling checked in reports of the announcement (theverge.com 2024-05-09).
- Meta (Instagram): an "AI info" label from industry-standard indicators (C2PA, IPTC
  DigitalSourceType) or the creator's disclosure; disclosure is required for photorealistic
  video or realistic-sounding audio that was digitally created or altered (Meta newsroom
  "Labeling AI-Generated Images on Facebook, Instagram and Threads", 2024-02-06, and "Our
  Approach to Labeling AI-Generated Content", 2024-04-05): not re-checked here; Meta's reading
  of C2PA/IPTC checked in iptc.org's report of the announcement (2024-02).
- YouTube and Shorts: creators must disclose meaningfully altered or synthetic content that
  seems realistic with the "altered content" setting in YouTube Studio (YouTube Help
  "Disclosing use of altered or synthetic content", answer 14328491): checked here (a mirror of
  the help page).
- LinkedIn: shows a Content Credentials icon on media that carries C2PA; no disclosure setting
  is required (LinkedIn Help "Content Credentials"): not re-checked here.
- EU AI Act, Art. 50 (Regulation (EU) 2024/1689), applies from 2026-08-02 on every platform:
  providers mark generated output machine-readably (50(2)); deployers disclose deep fakes
  (50(4)). Not re-checked here against the Official Journal; checked in explainers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from schemas.events import PlatformFit
from schemas.fields import MediaKind, Platform


@dataclass(frozen=True)
class AiLabelRule:
    """`setting`: what the publisher sets; `required_for`: the kinds the platform requires it
    for (of realistic content, which we cannot judge, so we ask for it); `reads_c2pa`: the
    platform labels from C2PA by itself, so the manifest must survive the export."""

    setting: str
    required_for: frozenset[MediaKind]
    reads_c2pa: bool


BOTH: Final[frozenset[MediaKind]] = frozenset({"image", "video"})
_META = AiLabelRule("'AI info' label (Add AI label when posting)", frozenset({"video"}), True)
_YOUTUBE = AiLabelRule("'Altered or synthetic content: Yes' in YouTube Studio", BOTH, False)

AI_LABELS: Final[dict[Platform, AiLabelRule]] = {
    "tiktok": AiLabelRule("'AI-generated content' setting when posting", BOTH, True),
    "instagram_reels": _META,
    "instagram_stories": _META,
    "instagram_feed": _META,
    "youtube_shorts": _YOUTUBE,
    "youtube": _YOUTUBE,
    "linkedin": AiLabelRule("none required (LinkedIn shows the CR icon)", frozenset(), True),
}


def ai_label(
    platform: Platform, kind: MediaKind, ai_generated: bool | None
) -> tuple[bool | None, str | None]:
    """Whether the platform requires an AI label for this asset, and what to set.

    Null when nobody knows whether the asset is AI-generated: never guessed."""
    if ai_generated is None:
        return None, None
    if not ai_generated:
        return False, None
    rule = AI_LABELS[platform]
    keep = "; keep the C2PA manifest on export (the platform labels from it)"
    what = rule.setting + (keep if rule.reads_c2pa else "")
    return kind in rule.required_for, what


def with_ai_label(
    fit: PlatformFit, platform: Platform, kind: MediaKind, ai_generated: bool | None
) -> PlatformFit:
    """The platform fit with the AI label it needs (`ai_label_required`, `ai_label`)."""
    required, what = ai_label(platform, kind, ai_generated)
    return fit.model_copy(update={"ai_label_required": required, "ai_label": what})
