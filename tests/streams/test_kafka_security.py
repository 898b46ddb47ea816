"""Kafka TLS and SASL settings: refused when incomplete, and the same in every client's terms.

TLS runs end to end in tests/e2e/test_kafka_tls.py; the embedded broker has no SASL, so SASL
is checked here up to what the clients are given (aiokafka's and faust's own names).
"""

from __future__ import annotations

import ssl
from pathlib import Path

import faust
import pytest
from pydantic import ValidationError

from processors.config import KafkaSecurity, Settings
from streams.app import faust_credentials
from tests.kafka_tls import make_ca_and_server_cert


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"protocol": "SASL_SSL", "sasl_username": "u"}, "SASL_SSL needs kafka.security.sasl"),
        ({"protocol": "SSL", "cert_file": "c.pem"}, "a client certificate needs its key"),
        ({"ca_file": "ca.pem"}, "TLS files are set but kafka.security.protocol is PLAINTEXT"),
    ],
)
def test_incomplete_security_is_refused_at_start(fields: dict[str, str], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        KafkaSecurity.model_validate(fields)


def test_sasl_over_tls_in_the_clients_terms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, _, _ = make_ca_and_server_cert(tmp_path)
    for name, value in {
        "PROTOCOL": "SASL_SSL",
        "CA_FILE": str(ca),
        "SASL_MECHANISM": "SCRAM-SHA-512",
        "SASL_USERNAME": "reelscope",
        "SASL_PASSWORD": "s3cret",
    }.items():
        monkeypatch.setenv(f"REELSCOPE_KAFKA__SECURITY__{name}", value)
    security = Settings().kafka.security
    assert "s3cret" not in repr(security)
    options = security.client_options()
    assert isinstance(options.pop("ssl_context"), ssl.SSLContext)
    assert options == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "reelscope",
        "sasl_plain_password": "s3cret",
    }
    credentials = faust_credentials(security)
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-512"


def test_plaintext_is_the_default_and_gives_faust_no_credentials() -> None:
    security = KafkaSecurity()
    assert security.client_options() == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(security) is None
