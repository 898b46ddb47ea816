"""Provenance read from signed, tampered, unsigned, IPTC-only and hostile files, in a decoder
pool child (as the worker reads it), and judged against how each was submitted."""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest

from processors.pool import RenewingPool
from processors.provenance import ProvenanceSettings, cross_check, read_provenance
from processors.provenance.metadata import exif_software, read_metadata
from processors.synthetic import events as make
from schemas.profiles import BrandProfile
from schemas.provenance import Provenance
from tests.processors.provenance.fixtures import SigningCa, iptc_xmp, provenance_set


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> tuple[SigningCa, dict[str, Path]]:
    return provenance_set(tmp_path_factory.mktemp("provenance"))


@pytest.fixture(scope="module")
def pool() -> Iterator[RenewingPool]:
    p = RenewingPool(1)
    yield p
    p.shutdown()


def read(pool: RenewingPool, path: Path, anchors: Path | None) -> Provenance:
    """Read as the worker does: in a confined pool child (no network)."""
    settings = ProvenanceSettings(trust_anchors=anchors)
    return pool.submit(read_provenance, path, make.uploaded(), settings).result(timeout=60)


# (fixture, ai_generated, evidence, integrity, violations of a plain upload)
EXPECTED = [
    ("signed_ai_image", True, ["c2pa"], "valid", ["provenance.ai_undeclared"]),
    ("signed_edited_video", True, ["c2pa"], "valid", ["provenance.ai_undeclared"]),
    ("tampered", None, [], "invalid", ["provenance.manifest_invalid"]),
    ("unsigned", None, [], None, []),
    ("iptc_only", True, ["iptc"], None, ["provenance.ai_undeclared"]),
]


@pytest.mark.parametrize(("name", "ai", "evidence", "integrity", "codes"), EXPECTED)
def test_each_fixture_gives_its_provenance(
    fixtures: tuple[SigningCa, dict[str, Path]],
    pool: RenewingPool,
    name: str,
    ai: bool | None,
    evidence: list[str],
    integrity: str | None,
    codes: list[str],
) -> None:
    ca, files = fixtures
    prov = read(pool, files[name], ca.root_pem)
    assert (prov.ai_generated, prov.evidence, prov.error) == (ai, evidence, None)
    assert (prov.c2pa.integrity if prov.c2pa else None) == integrity
    assert [v.code for v in cross_check(prov, make.uploaded(), None)] == codes


def test_trust_is_reported_apart_from_integrity(
    fixtures: tuple[SigningCa, dict[str, Path]], pool: RenewingPool
) -> None:
    ca, files = fixtures
    anchored = read(pool, files["signed_ai_image"], ca.root_pem).c2pa
    unanchored = read(pool, files["signed_ai_image"], None).c2pa
    tampered = read(pool, files["tampered"], ca.root_pem).c2pa
    assert anchored and unanchored and tampered
    assert (anchored.integrity, anchored.trusted, anchored.validation_state) == (
        "valid",
        True,
        "Trusted",
    )
    # no anchors: an unknown signer is not a broken manifest, and trust is not guessed
    assert (unanchored.integrity, unanchored.trusted) == ("valid", None)
    assert unanchored.signer == "Reelscope Test Signer"
    assert unanchored.claim_generator == "reelscope-tests 1.0"
    assert unanchored.actions[0].action == "c2pa.created"
    assert unanchored.actions[0].digital_source_type
    assert unanchored.actions[0].digital_source_type.endswith("/trainedAlgorithmicMedia")
    # the bytes changed after signing, yet the signer is still the trusted one
    assert (tampered.integrity, tampered.trusted) == ("invalid", True)
    assert "assertion.dataHash.mismatch" in tampered.failures


def test_the_edited_video_lists_its_actions_and_ingredient(
    fixtures: tuple[SigningCa, dict[str, Path]], pool: RenewingPool
) -> None:
    ca, files = fixtures
    facts = read(pool, files["signed_edited_video"], ca.root_pem).c2pa
    assert facts is not None
    assert [a.action for a in facts.actions] == ["c2pa.opened", "c2pa.edited"]
    assert facts.actions[1].digital_source_type
    assert facts.actions[1].digital_source_type.endswith("/compositeWithTrainedAlgorithmicMedia")
    assert [(i.title, i.relationship) for i in facts.ingredients] == [("clip.mp4", "parentOf")]


@pytest.mark.parametrize(
    ("name", "said"),
    [("truncated_manifest", "C2PA manifest could not be read"), ("huge_xmp", "XMP packet is")],
)
def test_hostile_provenance_is_a_readable_error_not_a_crash(
    fixtures: tuple[SigningCa, dict[str, Path]], pool: RenewingPool, name: str, said: str
) -> None:
    ca, files = fixtures
    prov = read(pool, files[name], ca.root_pem)
    assert prov.error and said in prov.error and "Traceback" not in prov.error
    assert prov.ai_generated is None


def test_declared_generated_without_a_marker_and_the_brands_severities(
    fixtures: tuple[SigningCa, dict[str, Path]], pool: RenewingPool
) -> None:
    ca, files = fixtures
    generated = make.generated()
    unsigned = read_provenance(files["unsigned"], generated, ProvenanceSettings())
    assert (unsigned.ai_generated, unsigned.evidence) == (True, ["generation_event"])
    [missing] = cross_check(unsigned, generated, None)
    assert (missing.code, missing.severity) == ("provenance.ai_marker_missing", "warn")
    labelled = make.uploaded(labels={"ai_generated": "true"})
    signed = read_provenance(files["signed_ai_image"], labelled, ProvenanceSettings())
    assert signed.evidence == ["c2pa", "label"] and cross_check(signed, labelled, None) == []
    profile = BrandProfile(
        name="b",
        brand_id="b",
        version=1,
        provenance_severity={"provenance.ai_marker_missing": "fail"},
    )
    assert [v.severity for v in cross_check(unsigned, generated, profile)] == ["fail"]
    off = profile.model_copy(update={"provenance_severity": {"provenance.ai_undeclared": "off"}})
    plain = read_provenance(files["iptc_only"], make.uploaded(), ProvenanceSettings())
    assert cross_check(plain, make.uploaded(), off) == []


def test_metadata_reading_is_bounded() -> None:
    xmp = iptc_xmp("compositeWithTrainedAlgorithmicMedia")
    # a compressed iTXt packet that would inflate to 64 MiB is refused after the limit
    bomb = zlib.compress(b" " * (64 * 1024 * 1024))
    itxt = b"XML:com.adobe.xmp\x00\x01\x00\x00\x00" + bomb
    png = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", len(itxt)) + b"iTXt" + itxt + b"\0" * 4
    with pytest.raises(Exception, match="inflates past"):
        read_metadata(io.BytesIO(png), "image/png", 1024 * 1024)
    # XMP in an mp4 `uuid` box; a box claiming more bytes than the file holds is not followed
    uuid = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
    box = struct.pack(">I", 24 + len(xmp)) + b"uuid" + uuid + xmp
    mp4 = b"\0\0\0\x18ftypisom\0\0\0\0isomiso2" + box
    found = read_metadata(io.BytesIO(mp4), "video/mp4", 1024 * 1024)
    assert found.source_types[0].endswith("compositeWithTrainedAlgorithmicMedia")
    liar = b"\0\0\0\x18ftypisom\0\0\0\0isomiso2" + b"\xff\xff\xff\xf0moov"
    assert read_metadata(io.BytesIO(liar), "video/mp4", 1024).source_types == []
    tiff = b"II*\0\x08\0\0\0\x01\0\x31\x01\x02\0\x05\0\0\0\x1a\0\0\0\0\0\0\0DALL\0"
    assert exif_software(tiff) == "DALL"
