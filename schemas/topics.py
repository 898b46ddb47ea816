"""Topic names: one place, versioned in the name (an incompatible change is a new topic)."""

from typing import Final

MEDIA_UPLOADED: Final = "reelscope.media.uploaded.v1"
MEDIA_GENERATED: Final = "reelscope.media.generated.v1"
BRAND_CHECKS: Final = "reelscope.brand.checks.v1"
MEDIA_ANALYSES: Final = "reelscope.media.analyses.v1"
MEDIA_RESULTS: Final = "reelscope.media.results.v1"
BRANDS: Final = "reelscope.brands.v1"
DEADLETTER: Final = "reelscope.deadletter.v1"
REVIEWS: Final = "reelscope.reviews.v1"  # people's decisions (the API produces them)
MEDIA_DECISIONS: Final = "reelscope.media.decisions.v1"  # the publishing gate (one writer)

INPUT_TOPICS: Final = (MEDIA_UPLOADED, MEDIA_GENERATED)
ALL_TOPICS: Final = (
    MEDIA_UPLOADED,
    MEDIA_GENERATED,
    BRAND_CHECKS,
    MEDIA_ANALYSES,
    MEDIA_RESULTS,
    BRANDS,
    DEADLETTER,
    REVIEWS,
    MEDIA_DECISIONS,
)
