"""Provenance fixtures the tests make themselves: a test CA and an ES256 signer (`cryptography`),
C2PA manifests written with `c2pa-python`'s builder, an IPTC-only file and hostile inputs."""

from __future__ import annotations

import datetime as dt
import io
import json
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from processors.synthetic.samples import make_image, make_video

IPTC = "http://cv.iptc.org/newscodes/digitalsourcetype/"
OFFLINE = {"verify": {"remote_manifest_fetch": False, "ocsp_fetch": False}}


@dataclass(frozen=True)
class SigningCa:
    root_pem: Path
    chain: bytes  # signer certificate, then the root
    key: bytes


def _name(cn: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, cn),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Reelscope Test CA"),
        ]
    )


def _usage(*, sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign,
        crl_sign=sign,
        encipher_only=False,
        decipher_only=False,
    )


def make_ca(folder: Path) -> SigningCa:
    """A root CA and a C2PA signing certificate (ES256, emailProtection EKU) under it."""
    now = dt.datetime.now(dt.UTC)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())

    def cert(subject: str, public: Any, *, ca: bool) -> x509.CertificateBuilder:
        b = (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(_name("Reelscope Test Root"))
            .public_key(public)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
            .add_extension(_usage(sign=ca), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        )
        if not ca:
            eku = x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION])
            b = b.add_extension(eku, critical=False).add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(root_key.public_key()),
                critical=False,
            )
        return b

    root = cert("Reelscope Test Root", root_key.public_key(), ca=True).sign(
        root_key, hashes.SHA256()
    )
    leaf = cert("Reelscope Test Signer", key.public_key(), ca=False).sign(root_key, hashes.SHA256())
    pem = serialization.Encoding.PEM
    root_pem = folder / "trust-anchors.pem"
    root_pem.write_bytes(root.public_bytes(pem))
    private = key.private_bytes(
        pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return SigningCa(root_pem, leaf.public_bytes(pem) + root.public_bytes(pem), private)


def sign(
    ca: SigningCa,
    source: Path,
    dest: Path,
    mime: str,
    manifest: dict[str, Any],
    ingredient: Path | None = None,
) -> Path:
    """Write `source` with a signed manifest to `dest`."""
    info = c2pa.C2paSignerInfo(c2pa.C2paSigningAlg.ES256, ca.chain, ca.key, None)
    signer = c2pa.Signer.from_info(info)
    context = c2pa.Context.from_dict(OFFLINE)
    out = io.BytesIO()
    with c2pa.Builder(manifest, context=context) as builder:
        if ingredient is not None:
            with ingredient.open("rb") as f:
                meta = {"title": ingredient.name, "relationship": "parentOf", "label": "parent"}
                builder.add_ingredient(json.dumps(meta), mime, f)
        with source.open("rb") as f:
            builder.sign(signer, mime, f, out)
    dest.write_bytes(out.getvalue())
    return dest


def manifest(action: str, source_type: str | None, agent: str) -> dict[str, Any]:
    """One action (an edit opens its parent ingredient first, as C2PA requires)."""
    step: dict[str, Any] = {"action": action, "softwareAgent": {"name": agent}}
    if source_type:
        step["digitalSourceType"] = IPTC + source_type
    opened = {"action": "c2pa.opened", "parameters": {"ingredientIds": ["parent"]}}
    steps = [opened, step] if action == "c2pa.edited" else [step]
    return {
        "claim_generator_info": [{"name": "reelscope-tests", "version": "1.0"}],
        "assertions": [{"label": "c2pa.actions", "data": {"actions": steps}}],
    }


def with_xmp(jpeg: Path, dest: Path, xmp: bytes) -> Path:
    """A JPEG with an XMP APP1 segment after SOI."""
    data = jpeg.read_bytes()
    body = b"http://ns.adobe.com/xap/1.0/\x00" + xmp
    segment = b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body
    dest.write_bytes(data[:2] + segment + data[2:])
    return dest


def iptc_xmp(source_type: str, tool: str = "Firefly Image 3") -> bytes:
    return (
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/" '
        'xmlns:xmp="http://ns.adobe.com/xap/1.0/" '
        f'Iptc4xmpExt:DigitalSourceType="{IPTC}{source_type}" xmp:CreatorTool="{tool}"/>'
        "</rdf:RDF></x:xmpmeta>"
    ).encode()


def truncated_manifest(signed: Path, dest: Path) -> Path:
    """The signed JPEG with its C2PA (APP11 JUMBF) payload cut short inside its segments: a
    well-formed JPEG whose manifest ends mid-box."""
    data = bytearray(signed.read_bytes())
    i = 2
    while data[i] == 0xFF and data[i + 1] != 0xDA:
        length = int.from_bytes(data[i + 2 : i + 4], "big")
        if data[i + 1] == 0xEB:  # APP11: zero the second half of the JUMBF payload
            start = i + 4 + length // 2
            data[start : i + 2 + length] = bytes(i + 2 + length - start)
        i += 2 + length
    dest.write_bytes(bytes(data))
    return dest


def huge_xmp_mp4(clip: Path, dest: Path, size: int = 8 * 1024 * 1024) -> Path:
    """The clip with an XMP `uuid` box of `size` bytes appended (over the read limit)."""
    uuid = bytes.fromhex("be7acfcb97a942e89c71999491e3afac")
    packet = b"<x:xmpmeta>" + b" " * size + b"</x:xmpmeta>"
    box = struct.pack(">I", 24 + len(packet)) + b"uuid" + uuid + packet
    dest.write_bytes(clip.read_bytes() + box)
    return dest


def provenance_set(folder: Path) -> tuple[SigningCa, dict[str, Path]]:
    """The fixtures of the issue: each file and the test CA that signed the signed ones."""
    ca = make_ca(folder)
    plain = make_image(folder / "plain.jpg", width=640, height=360)
    clip = make_video(folder / "clip.mp4", width=320, height=568, seconds=2, cuts=1, audio=False)
    ai_image = sign(
        ca,
        plain,
        folder / "signed_ai.jpg",
        "image/jpeg",
        manifest("c2pa.created", "trainedAlgorithmicMedia", "Imagen 4"),
    )
    edited = sign(
        ca,
        clip,
        folder / "signed_edited.mp4",
        "video/mp4",
        manifest("c2pa.edited", "compositeWithTrainedAlgorithmicMedia", "Premiere Pro"),
        ingredient=clip,
    )
    tampered = bytearray(ai_image.read_bytes())
    tampered[-400:-300] = bytes(100)  # pixels after the manifest: the data hash breaks
    (folder / "tampered.jpg").write_bytes(bytes(tampered))
    files = {
        "signed_ai_image": ai_image,
        "signed_edited_video": edited,
        "tampered": folder / "tampered.jpg",
        "unsigned": plain,
        "iptc_only": with_xmp(plain, folder / "iptc.jpg", iptc_xmp("trainedAlgorithmicMedia")),
        "truncated_manifest": truncated_manifest(ai_image, folder / "truncated.jpg"),
        "huge_xmp": huge_xmp_mp4(clip, folder / "huge_xmp.mp4"),
    }
    return ca, files
