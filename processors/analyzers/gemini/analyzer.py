"""The Gemini analyzer: media in (inline or Files API), validated structured JSON out.

Guarantees: a cache hit (same bytes, model, prompt version and options) makes no call and costs
nothing, and so does an exact-content copy of an earlier upload of the same brand whose answer is
cached (`request.same_as`: resized, re-encoded, `processors.dedupe.rule`); a call over budget
(the fleet's ledger, `processors.budget`) is not made (`deferred`);
a safety block is final (`blocked`), never retried; output that fails validation is asked for
once more, then reported (`invalid_output`).
Transient faults raise `AnalyzerUnavailable`, inputs Gemini will never take `AnalyzerRejected`.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass
from uuid import UUID

from google import genai
from google.genai import types
from pydantic import ValidationError

from processors.analyzers.base import AnalysisRequest, analysis_of
from processors.analyzers.gemini.cache import (
    AnalysisCache,
    CachedAnalysis,
    MemoryCache,
    StoreCache,
    cache_key,
    file_sha256,
)
from processors.analyzers.gemini.cost import (
    CHARS_PER_TOKEN,
    estimate_usd,
    media_tokens,
)
from processors.analyzers.gemini.files import FilesApi
from processors.analyzers.gemini.media import (
    RESOLUTIONS,
    Tally,
    block_reason,
    sniff_mime,
    video_metadata,
)
from processors.analyzers.gemini.options import GeminiOptions
from processors.analyzers.gemini.prompt import (
    PROMPT_VERSION,
    SYSTEM,
    answer_model,
    build_prompt,
    response_schema,
    target_platforms,
    to_content,
)
from processors.analyzers.gemini.resilience import (
    CircuitBreaker,
    Clock,
    RateLimiter,
    Retrier,
    SystemClock,
    TokenLimiter,
)
from processors.budget import BudgetLedger, Reservation
from processors.config import Settings
from processors.errors import AnalyzerUnavailable, StorageError
from processors.storage import Store, open_store
from schemas.events import AnalysisStatus, ContentAnalysis, MediaAnalysis, Usage
from schemas.fields import MediaKind

log = logging.getLogger(__name__)
CACHEABLE: set[AnalysisStatus] = {"done", "blocked"}


@dataclass(frozen=True)
class Outcome:
    status: AnalysisStatus
    error: str | None = None
    content: ContentAnalysis | None = None


class GeminiAnalyzer:
    name = "gemini"

    def __init__(
        self,
        *,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout_s: float = 120,
        options: GeminiOptions | None = None,
        concurrency: int = 8,
        cache: AnalysisCache | None = None,
        clock: Clock | None = None,
        ledger: BudgetLedger | None = None,
    ) -> None:
        self.model, self.timeout_s = model, timeout_s
        self.options = options or GeminiOptions()
        self.cache: AnalysisCache = cache if cache is not None else MemoryCache()
        self.clock: Clock = clock or SystemClock()
        self.budget = ledger or BudgetLedger(open_store("memory://"), self.options)
        self.breaker = CircuitBreaker(
            self.options.breaker_failures, self.options.breaker_open_s, self.clock
        )
        limiter = RateLimiter(self.options.rpm, self.options.rpm_burst, self.clock)
        self._retrier = Retrier(self.options, self.breaker, limiter)
        self.tokens = TokenLimiter(self.options.tpm, self.clock)
        self._slots = asyncio.Semaphore(concurrency)
        self._files = FilesApi(
            lambda: self.client, self._retrier, self.options, self.clock, timeout_s
        )
        self._api_key, self._base_url = api_key, base_url
        self._client: genai.Client | None = None

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        store: Store | None = None,
        options: GeminiOptions | None = None,
        cache: AnalysisCache | None = None,
    ) -> GeminiAnalyzer:
        """Build from settings; answers are cached and spend is booked in `store` (default: the
        configured bucket), unless given a cache."""
        g = settings.gemini
        if g.api_key is None:
            msg = "the gemini analyzer needs an API key: set REELSCOPE_GEMINI__API_KEY"
            raise ValueError(msg)
        store = store if store is not None else settings.store.open()
        options = options or g
        return cls(
            api_key=g.api_key.get_secret_value(),
            model=g.model,
            base_url=g.base_url,
            timeout_s=g.timeout_s,
            options=options,
            concurrency=settings.analyzer.concurrency,
            cache=cache if cache is not None else StoreCache(store),
            ledger=BudgetLedger(store, options),
        )

    @property
    def requests(self) -> Counter[str]:
        """Requests to Gemini by outcome (`ok`, `rate_limited`, `error`) and `retry`s made."""
        return self._retrier.counts

    @property
    def client(self) -> genai.Client:
        """Made on first use; the SDK's own retries are off (ours honour retryDelay)."""
        if self._client is None:
            http = types.HttpOptions(
                base_url=self._base_url,
                timeout=round(self.timeout_s * 1000),
                retry_options=types.HttpRetryOptions(attempts=1),
            )
            self._client = genai.Client(api_key=self._api_key, http_options=http)
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aio.aclose()
            self._client = None

    async def analyze(self, request: AnalysisRequest) -> MediaAnalysis:
        kind: MediaKind = request.media.kind if request.media else request.event.media_kind
        prompt = build_prompt(request.event, kind)
        digest = await asyncio.to_thread(file_sha256, request.path)
        params = self.options.answer_params()
        key = cache_key(digest, self.model, PROMPT_VERSION, params, prompt)
        lookups: list[tuple[str, UUID | None]] = [(key, None)]
        if (earlier := request.same_as) is not None:
            again = cache_key(earlier.sha256, self.model, PROMPT_VERSION, params, prompt)
            lookups.append((again, earlier.media_id))
        for lookup, reused_from in lookups:
            if (hit := await self.cache.get(lookup)) is not None:
                zero = Usage(input_tokens=0, output_tokens=0, cost_usd=0.0, estimated_cost_usd=0.0)
                outcome = Outcome(hit.status, hit.error, hit.content)
                return self._result(request, outcome, zero, cached=True, reused_from=reused_from)
        tokens, estimate = self._estimate(request, kind, prompt)
        booking = await self._reserve(request, estimate)
        if isinstance(booking, str):
            return self._result(
                request, Outcome("deferred", booking), Usage(estimated_cost_usd=round(estimate, 8))
            )
        tally, price = Tally(), self.options.price(self.model)
        try:
            async with self._slots:
                taken = await self.tokens.acquire(tokens)
                started = self.clock.monotonic()
                try:
                    outcome = await self._analyse(request, kind, prompt, tally)
                finally:
                    self.tokens.settle(taken, tally.input_tokens + tally.output_tokens)
                latency_ms = (self.clock.monotonic() - started) * 1000
        finally:
            await self._settle(booking, tally.cost(price))
        if outcome.status in CACHEABLE:
            entry = CachedAnalysis(
                status=outcome.status,
                error=outcome.error,
                model=self.model,
                prompt_version=PROMPT_VERSION,
                content=outcome.content,
                usage=tally.usage(price, estimate),
            )
            await self.cache.put(key, entry)
        return self._result(request, outcome, tally.usage(price, estimate), latency_ms=latency_ms)

    async def _reserve(self, request: AnalysisRequest, estimate: float) -> Reservation | str:
        """Book the estimate in the fleet's ledger first; a ledger out of reach is transient
        (the call is not made unbooked)."""
        day, brand_id = self.clock.now().date(), request.event.brand_id
        try:
            return await asyncio.to_thread(self.budget.reserve, day, brand_id, estimate)
        except StorageError as e:
            msg = f"the Gemini budget ledger is out of reach: {e}"
            raise AnalyzerUnavailable(msg) from e

    async def _settle(self, booking: Reservation, actual: float) -> None:
        """Settle the call's real cost; if the ledger is out of reach the estimate stays booked
        (the call was made: retrying the analysis would pay twice)."""
        try:
            await asyncio.to_thread(self.budget.settle, booking, actual)
        except StorageError as e:
            log.warning("budget settle failed, the estimate stays booked: %s", e)

    def _estimate(
        self, request: AnalysisRequest, kind: MediaKind, prompt: str
    ) -> tuple[int, float]:
        """Tokens (in + expected out, for the TPM limiter) and USD (for the budget) of a call."""
        info = request.media
        tokens = media_tokens(
            kind,
            info.duration_s if info else None,
            info.has_audio if info else True,
            self.options,
        )
        chars = len(prompt) + len(SYSTEM)
        total = tokens + chars // CHARS_PER_TOKEN + self.options.expected_output_tokens
        return total, estimate_usd(tokens, chars, self.options, self.model)

    async def _analyse(
        self, request: AnalysisRequest, kind: MediaKind, prompt: str, tally: Tally
    ) -> Outcome:
        mime = await asyncio.to_thread(sniff_mime, request.path)
        if mime is None or not mime.startswith(f"{kind}/"):
            return Outcome("failed", f"unsupported media: bytes are not a known {kind} type")
        meta = video_metadata(kind, self.options)
        if request.path.stat().st_size <= self.options.inline_limit_bytes:
            data = await asyncio.to_thread(request.path.read_bytes)
            part = types.Part(
                inline_data=types.Blob(data=data, mime_type=mime), video_metadata=meta
            )
            return await self._ask(part, request, prompt, tally)
        async with self._files.uploaded(request.path, mime, str(request.event.media_id)) as f:
            if f.state == types.FileState.FAILED:
                reason = f.error.message if f.error else "no reason given"
                return Outcome("failed", f"Gemini could not process the file: {reason}")
            part = types.Part(
                file_data=types.FileData(file_uri=f.uri, mime_type=mime), video_metadata=meta
            )
            return await self._ask(part, request, prompt, tally)

    async def _ask(
        self, part: types.Part, request: AnalysisRequest, prompt: str, tally: Tally
    ) -> Outcome:
        """Generate, check for a block, validate; re-ask once if the JSON is invalid."""
        config = types.GenerateContentConfig(
            system_instruction=SYSTEM,
            response_mime_type="application/json",
            response_json_schema=response_schema(request.event),
            media_resolution=RESOLUTIONS[self.options.media_resolution],
            temperature=self.options.temperature,
            max_output_tokens=self.options.max_output_tokens,
        )
        model_cls, problem = answer_model(request.event), ""
        client = self.client  # built outside the timed call
        contents = types.Content(role="user", parts=[part, types.Part.from_text(text=prompt)])
        for _ in range(2):
            response = await self._retrier.call(
                "generate_content",
                lambda: client.aio.models.generate_content(
                    model=self.model, contents=contents, config=config
                ),
                timeout_s=self.timeout_s,
                limited=True,
            )
            tally.add(response.usage_metadata)
            if (blocked := block_reason(response)) is not None:
                return Outcome("blocked", blocked)
            try:
                answer = model_cls.model_validate_json(response.text or "")
            except ValidationError as e:
                problem = _first_error(e)
                continue
            return Outcome("done", content=to_content(answer, target_platforms(request.event)))
        return Outcome("invalid_output", f"model output failed validation twice: {problem}")

    def _result(
        self,
        request: AnalysisRequest,
        outcome: Outcome,
        usage: Usage,
        *,
        cached: bool = False,
        latency_ms: float = 0.0,
        reused_from: UUID | None = None,
    ) -> MediaAnalysis:
        return analysis_of(
            request.event,
            producer=request.producer,
            analyzer=self.name,
            status=outcome.status,
            error=outcome.error,
            model=self.model,
            prompt_version=PROMPT_VERSION,
            media=request.media,
            content=outcome.content,
            usage=usage,
            cached=cached,
            reused_from=reused_from,
            latency_ms=round(latency_ms, 3),
        )


def _first_error(e: ValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(root)"
    return f"{where}: {first['msg']} ({e.error_count()} errors)"
