"""C2PA Content Credentials read offline with the C2PA library (`c2pa-python`, native code).

Called only in a decoder pool child, which has no network (`processors.media.confine`): the
library still gets remote manifests and OCSP switched off, so it never tries. Integrity and
trust are told apart from the library's validation codes: `signingCredential.untrusted` (and
the other credential-trust codes) say who signed is not known, not that the bytes changed.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any, Final

import c2pa

from processors.errors import MediaError
from schemas.provenance import C2paAction, C2paFacts, C2paIngredient

# validation failures about the signer's standing, not about the bytes or the claim
TRUST_CODES: Final = frozenset(
    {
        "signingCredential.untrusted",
        "signingCredential.ocsp.unknown",
        "signingCredential.ocsp.skipped",
        "timeStamp.untrusted",
    }
)
MANIFEST_MAX: Final = 8 * 1024 * 1024  # characters of manifest report parsed at most


class ManifestUnreadable(MediaError):
    """A manifest the library could not parse: the file's other facts still stand."""


def read_c2pa(path: Path, ctype: str, anchors: Path | None) -> C2paFacts | None:
    """The active manifest's facts, or None if the file has no manifest."""
    try:
        with path.open("rb") as f:
            reader = c2pa.Reader.try_create(ctype, f, None, _context(anchors))
            if reader is None:
                return None
            with reader:
                report = reader.json()
    except (c2pa.C2paError, ValueError) as e:
        msg = f"the C2PA manifest could not be read: {_reason(e)}"
        raise ManifestUnreadable(msg) from e
    if len(report) > MANIFEST_MAX:
        msg = f"the C2PA manifest report is {len(report)} characters, over {MANIFEST_MAX}"
        raise ManifestUnreadable(msg)
    return facts(json.loads(report or "{}"), anchors is not None)


def facts(store: dict[str, Any], anchored: bool) -> C2paFacts:
    """Reduce a manifest store report to what a publishing gate needs."""
    state = store.get("validation_state")
    results = (store.get("validation_results") or {}).get("activeManifest") or {}
    failures = [str(f.get("code")) for f in results.get("failure") or [] if f.get("code")]
    passed = {str(f.get("code")) for f in results.get("success") or []}
    broken = [c for c in failures if c not in TRUST_CODES]
    manifest = (store.get("manifests") or {}).get(store.get("active_manifest") or "") or {}
    signature = manifest.get("signature_info") or {}
    return C2paFacts(
        validation_state=_short(state),
        integrity="invalid" if broken or (state == "Invalid" and not failures) else "valid",
        trusted=("signingCredential.trusted" in passed) if anchored else None,
        failures=[_short(c) or "" for c in failures[:100]],
        signer=_short(signature.get("common_name")),
        issuer=_short(signature.get("issuer")),
        claim_generator=_generator(manifest),
        actions=_actions(manifest),
        ingredients=[
            C2paIngredient(
                title=_short(i.get("title")),
                relationship=_short(i.get("relationship")),
                format=_short(i.get("format")),
            )
            for i in (manifest.get("ingredients") or [])[:100]
            if isinstance(i, dict)
        ],
    )


def _actions(manifest: dict[str, Any]) -> list[C2paAction]:
    out: list[C2paAction] = []
    for assertion in manifest.get("assertions") or []:
        if not str(assertion.get("label", "")).startswith("c2pa.actions"):
            continue
        for a in (assertion.get("data") or {}).get("actions") or []:
            agent = a.get("softwareAgent")
            name = agent.get("name") if isinstance(agent, dict) else agent
            out.append(
                C2paAction(
                    action=_short(a.get("action")) or "unknown",
                    digital_source_type=_short(a.get("digitalSourceType")),
                    software_agent=_short(name),
                )
            )
    return out[:100]


def _generator(manifest: dict[str, Any]) -> str | None:
    info = manifest.get("claim_generator_info")
    if isinstance(info, list) and info and isinstance(info[0], dict):
        name, version = info[0].get("name"), info[0].get("version")
        return _short(f"{name} {version}" if version else name)
    return _short(manifest.get("claim_generator"))


def _short(value: object) -> str | None:
    return None if value is None else str(value)[:200]


def _reason(e: Exception) -> str:
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return text[:300]


@functools.cache
def _context(anchors: Path | None) -> c2pa.Context:
    """One library context per trust configuration: offline, anchors from the PEM bundle."""
    settings: dict[str, Any] = {
        "verify": {"remote_manifest_fetch": False, "ocsp_fetch": False},
    }
    if anchors is not None:
        settings["trust"] = {"trust_anchors": anchors.read_text("ascii")}
    return c2pa.Context.from_dict(settings)
