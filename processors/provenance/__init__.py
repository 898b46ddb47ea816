"""Provenance of an upload: C2PA Content Credentials, IPTC/XMP DigitalSourceType and software
fields, read offline in the decoder pool child (native code facing hostile bytes), and the
cross-checks against how the asset was submitted (`judge`).

Not read: invisible watermarks (SynthID and the like need the vendor's detector), and nothing
is inferred from pixels. A manifest or packet that cannot be read is an `error` on the result
beside the facts that could be read, never a failed check.
"""

from __future__ import annotations

import struct
from pathlib import Path

from processors.errors import MediaError
from processors.media.sniff import sniff
from processors.provenance.c2pa_reader import read_c2pa
from processors.provenance.judge import assess, cross_check
from processors.provenance.metadata import read_metadata
from processors.provenance.settings import ProvenanceSettings
from schemas.events import MediaGenerated, MediaUploaded
from schemas.provenance import C2paFacts, Provenance

__all__ = ["ProvenanceSettings", "cross_check", "read_provenance"]


def read_provenance(
    path: Path, event: MediaUploaded | MediaGenerated, settings: ProvenanceSettings
) -> Provenance:
    """What the file says of its making, judged against the submission; never raises for
    unreadable provenance (the reason is in `error`)."""
    ctype, _ = sniff(path)
    errors: list[str] = []
    source_types: list[str] = []
    software: list[str] = []
    try:
        with path.open("rb") as f:
            meta = read_metadata(f, ctype, settings.max_xmp_bytes)
        source_types, software = meta.source_types, meta.software
    except (MediaError, OSError) as e:
        errors.append(str(e))
    except (struct.error, ValueError):  # a box or chunk cut short
        errors.append("the file's metadata is truncated or malformed: it was not read")
    manifest: C2paFacts | None = None
    try:
        manifest = read_c2pa(path, ctype, settings.trust_anchors)
    except MediaError as e:
        errors.append(str(e))
    facts = Provenance(
        c2pa=manifest,
        digital_source_types=source_types,
        software=software,
        error="; ".join(errors) or None,
    )
    return assess(facts, event)
