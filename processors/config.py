"""Configuration: the settings every reelscope process shares, read once at start.

Each package owns its options (`StoreSettings` in `processors.storage`, `LimitSettings` in
`processors.media.limits`, `GeminiSettings` in `processors.analyzers.gemini.options`,
`AnalyzerSettings` in `processors.analyzers.base`, `ProvenanceSettings` and `DedupeSettings`
in `processors.provenance` and `processors.dedupe`); this root composes them with the
cross-process sections defined here (broker, worker, reconciler, where the API listens). The
API process extends it with its own options (`api.settings.Settings`).

Environment variables use the prefix `REELSCOPE_` and `__` for nesting, e.g.
`REELSCOPE_KAFKA__BOOTSTRAP=kafka:9092`, `REELSCOPE_STORE__URL=s3://media-bucket`,
`REELSCOPE_GEMINI__API_KEY=…`. Nothing reads the environment at import time.
"""

from __future__ import annotations

import ssl
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from processors.analyzers.base import AnalyzerSettings
from processors.analyzers.gemini.options import GeminiSettings
from processors.dedupe.settings import DedupeSettings
from processors.media.limits import LimitSettings
from processors.provenance.settings import ProvenanceSettings
from processors.storage import StoreSettings


class KafkaSecurity(BaseModel):
    """TLS and SASL to the brokers, as managed Kafka (MSK, Confluent Cloud, Aiven) asks."""

    protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    ca_file: str | None = Field(default=None, description="PEM CA bundle; default: the system's")
    cert_file: str | None = Field(default=None, description="client certificate (mutual TLS)")
    key_file: str | None = Field(default=None, description="its private key")
    sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    @model_validator(mode="after")
    def _complete(self) -> KafkaSecurity:
        sasl, tls = self.protocol.startswith("SASL"), self.protocol.endswith("SSL")
        if sasl and not (self.sasl_username and self.sasl_password):
            msg = f"{self.protocol} needs kafka.security.sasl_username and sasl_password"
            raise ValueError(msg)
        if bool(self.cert_file) != bool(self.key_file):
            msg = "a client certificate needs its key: set both cert_file and key_file"
            raise ValueError(msg)
        if not tls and (self.ca_file or self.cert_file):
            msg = f"TLS files are set but kafka.security.protocol is {self.protocol}: use SSL"
            raise ValueError(msg)
        return self

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.protocol.endswith("SSL"):
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.cert_file and self.key_file:
            context.load_cert_chain(self.cert_file, self.key_file)
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for aiokafka and kafka-python clients (they share these names)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        context = self.ssl_context()
        if context is not None:
            options["ssl_context"] = context
        if self.protocol.startswith("SASL") and self.sasl_password is not None:
            options |= {
                "sasl_mechanism": self.sasl_mechanism,
                "sasl_plain_username": self.sasl_username,
                "sasl_plain_password": self.sasl_password.get_secret_value(),
            }
        return options


class KafkaSettings(BaseModel):
    bootstrap: str = Field(
        default="embedded",
        description="host:port[,host:port]; 'embedded' starts the bundled Tansu broker",
    )
    partitions: int = Field(default=6, ge=1)
    replication_factor: int = Field(default=1, ge=1)
    consumer_group: str = "reelscope-worker"
    security: KafkaSecurity = Field(default_factory=KafkaSecurity)
    rebalance_timeout_s: float = Field(default=3, gt=0, description="short for fast local joins")
    session_timeout_s: float = Field(default=6, gt=0)
    heartbeat_s: float = Field(default=1, gt=0)
    fetch_wait_ms: int = Field(
        default=100,
        ge=1,
        le=10_000,
        description="how long a consumer's fetch waits for records; Tansu (the embedded "
        "broker) answers only when it ends, Kafka as soon as records arrive (there 500, "
        "Kafka's default, saves idle polls); each idle fetch costs Tansu CPU: streams.fetch_wait",
    )


class WorkerSettings(BaseModel):
    check_processes: int = Field(default=2, ge=1, description="OpenCV/ffmpeg worker processes")
    lake_flush_seconds: float = Field(default=2.0, gt=0)
    lake_max_rows: int = Field(default=10_000, ge=1)
    lake_rotate_seconds: int = Field(
        default=3600, ge=1, description="a lake file holds at most this much record time"
    )
    sample_frames: int = Field(default=8, ge=1, le=120)
    web_port: int = Field(default=6066, ge=0, description="worker /metrics port (0: off)")
    web_host: str | None = Field(
        default=None, description="where /metrics listens; default loopback, 0.0.0.0 in production"
    )
    stall_s: float = Field(
        default=300,
        gt=0,
        description="/healthz fails when the event loop, or a consumer group with records "
        "waiting, made no progress for this long: longer than one media may take",
    )
    join_ttl_s: float = Field(
        default=3600,
        gt=0,
        description="a brand check or analysis waits this long for its other half, then is "
        "dead-lettered (longer than the worst backlog between the two stages)",
    )


class ReconcileSettings(BaseModel):
    """The reconciler: re-emits ledger media with neither a result nor a dead letter."""

    enabled: bool = Field(default=True, description="run it on the leader worker")
    interval_s: float = Field(default=60, gt=0, description="seconds between runs")
    older_than_s: float = Field(
        default=300,
        ge=0,
        description="grace period: longer than a media's way through the pipeline + lake flush",
    )
    lookback_days: int = Field(default=7, ge=1, description="ledger days listed by each run")


class ResumeSettings(BaseModel):
    """The resumer: analyses the budget deferred, run again when it allows (`processors.resume`)."""

    enabled: bool = Field(default=True, description="run it on the leader worker")
    interval_s: float = Field(default=300, gt=0, description="seconds between runs")
    older_than_s: float = Field(
        default=300, ge=0, description="grace period: a mark younger than this waits its result"
    )
    batch: int = Field(default=20, ge=1, description="media analysed again per run at most")


class ApiListen(BaseModel):
    """Where the API listens: `reelscope api` and `reelscope up` start it there. The API's own
    options (keys, results kept in memory) extend this in `api.settings`."""

    host: str = "127.0.0.1"
    port: int = 8080


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="REELSCOPE_", env_nested_delimiter="__", extra="ignore"
    )

    environment: Literal["development", "production"] = "development"
    producer_id: str = "reelscope"
    log_level: str = "INFO"
    kafka: KafkaSettings = Field(default_factory=KafkaSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    gemini: GeminiSettings = Field(default_factory=GeminiSettings)
    analyzer: AnalyzerSettings = Field(default_factory=AnalyzerSettings)
    provenance: ProvenanceSettings = Field(default_factory=ProvenanceSettings)
    dedupe: DedupeSettings = Field(default_factory=DedupeSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    reconcile: ReconcileSettings = Field(default_factory=ReconcileSettings)
    resume: ResumeSettings = Field(default_factory=ResumeSettings)
    api: ApiListen = Field(default_factory=ApiListen)

    @property
    def analyzer_name(self) -> Literal["local", "gemini"]:
        if self.analyzer.name == "auto":
            return "gemini" if self.gemini.api_key else "local"
        return self.analyzer.name
