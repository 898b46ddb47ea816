"""From the facts a file carries to `ai_generated`, and the cross-checks against how it came.

Rule: `ai_generated` is true when a C2PA action with intact integrity, an IPTC/XMP
DigitalSourceType, the generation event or the upload's `ai_generated=true` label says AI; false
when the file's provenance names a non-AI source (a camera capture, human edits) and nothing
says AI; null otherwise. A manifest that fails integrity is evidence of nothing but itself.

Cross-checks (codes stable; severities from the brand profile's `provenance_severity`):
- `provenance.ai_marker_missing`: declared generated (generation event or label), but the file
  carries no AI marker: platforms that auto-label from C2PA/IPTC will not, and Art. 50(2) asks
  generators for a machine-readable mark;
- `provenance.ai_undeclared`: the file's marker says AI, but it came as a plain upload without
  the label: the publisher has to set the platforms' AI disclosure by hand;
- `provenance.manifest_invalid`: the C2PA manifest fails integrity (altered after signing).
"""

from __future__ import annotations

from typing import Final

from schemas.events import MediaGenerated, MediaUploaded, Violation
from schemas.profiles import BrandProfile
from schemas.provenance import Evidence, Provenance, ProvenanceCode, Severity

IPTC: Final = "http://cv.iptc.org/newscodes/digitalsourcetype/"
AI_SOURCE_TYPES: Final = frozenset(
    {"trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "algorithmicMedia"}
)
NON_AI_SOURCE_TYPES: Final = frozenset(
    {
        "digitalCapture",
        "computationalCapture",
        "negativeFilm",
        "positiveFilm",
        "print",
        "humanEdits",
        "minorHumanEdits",
        "compositeCapture",
        "digitalArt",
        "virtualRecording",
        "screenCapture",
    }
)
DEFAULT_SEVERITY: Final[dict[ProvenanceCode, Severity]] = {
    "provenance.ai_marker_missing": "warn",
    "provenance.ai_undeclared": "fail",
    "provenance.manifest_invalid": "fail",
}
LABEL: Final = "ai_generated"  # the upload label a brand marks generated assets with
PENALTY: Final = 0.5  # score lost per provenance violation


def term(source_type: str) -> str:
    """`http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia` -> the term."""
    return source_type.removeprefix(IPTC).rsplit("/", 1)[-1]


def declared(event: MediaUploaded | MediaGenerated) -> list[Evidence]:
    """What in the submission says the asset is generated."""
    found: list[Evidence] = []
    if isinstance(event, MediaGenerated):
        found.append("generation_event")
    if event.labels.get(LABEL, "").lower() in ("true", "yes", "1"):
        found.append("label")
    return found


def assess(facts: Provenance, event: MediaUploaded | MediaGenerated) -> Provenance:
    """Fill in `ai_generated` and `evidence` from the file's facts and the submission."""
    c2pa_terms = (
        [term(a.digital_source_type) for a in facts.c2pa.actions if a.digital_source_type]
        if facts.c2pa is not None and facts.c2pa.integrity == "valid"
        else []
    )
    iptc_terms = [term(t) for t in facts.digital_source_types]
    evidence: list[Evidence] = []
    if AI_SOURCE_TYPES.intersection(c2pa_terms):
        evidence.append("c2pa")
    if AI_SOURCE_TYPES.intersection(iptc_terms):
        evidence.append("iptc")
    evidence += declared(event)
    ai: bool | None = True if evidence else None
    if ai is None and NON_AI_SOURCE_TYPES.intersection(c2pa_terms + iptc_terms):
        ai = False
    return facts.model_copy(update={"ai_generated": ai, "evidence": evidence})


def cross_check(
    provenance: Provenance, event: MediaUploaded | MediaGenerated, profile: BrandProfile | None
) -> list[Violation]:
    """The provenance violations of one asset, at the brand's severities ('off' drops one)."""
    marked = {"c2pa", "iptc"}.intersection(provenance.evidence)
    said = declared(event)
    found: list[tuple[ProvenanceCode, str]] = []
    if said and not marked:
        how = " and ".join(e.replace("_", " ") for e in said)
        found.append(
            (
                "provenance.ai_marker_missing",
                f"declared generated ({how}) but the file carries no AI marker (no C2PA "
                "action or IPTC DigitalSourceType saying trainedAlgorithmicMedia): platforms "
                "will not label it by themselves",
            )
        )
    if marked and not said:
        found.append(
            (
                "provenance.ai_undeclared",
                f"the file's {' and '.join(sorted(marked)).upper()} marker says AI-generated, "
                f"but it arrived as a plain upload without the {LABEL!r} label: set each "
                "platform's AI disclosure before publishing",
            )
        )
    if provenance.c2pa is not None and provenance.c2pa.integrity == "invalid":
        codes = ", ".join(provenance.c2pa.failures[:5]) or "no detail"
        found.append(
            (
                "provenance.manifest_invalid",
                f"the C2PA manifest fails integrity ({codes}): the file or its manifest "
                "changed after signing",
            )
        )
    levels = {**DEFAULT_SEVERITY, **(profile.provenance_severity if profile else {})}
    return [
        Violation(code=code, severity=level, message=message)
        for code, message in found
        if (level := levels[code]) != "off"
    ]
