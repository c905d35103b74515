"""The failover chain: an ``IntelligenceTier`` that prompts each configured provider in turn.

For each provider, in the configured order: a cache lookup; the circuit breaker; the call,
retried only on 429, 5xx and timeouts (tenacity, honouring Retry-After, SDK retries off);
schema validation with exactly one repair turn. An auth error is never retried: it is
logged with the setting to fix and the chain moves on. When no provider gives a valid
answer, the local tier answers, so the product never stops because an LLM is down.
Model-proposed actions pass the allowlist in ``actions.py`` and always wait for approval.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ValidationError
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from secretary.config import Settings
from secretary.errors import ConfigurationError
from secretary.kit.logging import get_logger
from secretary.llm import prompts
from secretary.llm.actions import filter_actions
from secretary.llm.breaker import CircuitBreaker
from secretary.llm.cache import ResponseCache, cache_key
from secretary.llm.errors import (
    InvalidModelOutput,
    ProviderAuthError,
    ProviderError,
    ProviderRateLimited,
    ProviderRetryable,
    ProviderTimeout,
)
from secretary.llm.pricing import UsageMeter
from secretary.llm.provider import ChatMessage, ChatProvider, ChatResult, make_usage
from secretary.llm.registry import create_provider
from secretary.llm.schemas import (
    Classification,
    DraftRequest,
    DraftResult,
    EmailInput,
    Extraction,
    IntelligenceTier,
    ProposedAction,
    Usage,
)

log = get_logger(__name__)

T = TypeVar("T", bound=BaseModel)
R = TypeVar("R", Classification, DraftResult)

Outcome = Literal[
    "ok",
    "cached",
    "circuit_open",
    "auth_error",
    "rate_limited",
    "unavailable",
    "timeout",
    "invalid_output",
    "bad_request",
    "error",
]


@dataclass(frozen=True)
class Attempt:
    provider: str
    outcome: Outcome
    detail: str = ""


@dataclass
class Answer(Generic[T]):
    value: T
    usage: Usage
    provider: str
    model: str
    tool_calls: list[ProposedAction] = field(default_factory=list)


@dataclass
class Link:
    provider: ChatProvider
    breaker: CircuitBreaker

    @property
    def name(self) -> str:
        return self.provider.name


def _outcome_of(exc: ProviderError) -> Outcome:
    if isinstance(exc, ProviderAuthError):
        return "auth_error"
    if isinstance(exc, ProviderRateLimited):
        return "rate_limited"
    if isinstance(exc, ProviderTimeout):
        return "timeout"
    if isinstance(exc, ProviderRetryable):
        return "unavailable"
    if isinstance(exc, InvalidModelOutput):
        return "invalid_output"
    return "bad_request"


class ProviderChain:
    """Implements ``IntelligenceTier`` over ``providers`` and always ends in ``local``."""

    name = "llm"

    def __init__(
        self,
        providers: Sequence[ChatProvider],
        local: IntelligenceTier,
        *,
        cache: ResponseCache | None = None,
        max_retries: int = 2,
        max_retry_wait_seconds: float = 20.0,
        timeout_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        meter: UsageMeter | None = None,
    ) -> None:
        self.links = [Link(p, CircuitBreaker(clock=clock)) for p in providers]
        self.local = local
        self.cache = cache
        self.max_retries = max_retries
        self.max_retry_wait_seconds = max_retry_wait_seconds
        self.timeout_seconds = timeout_seconds
        self.meter = meter or UsageMeter()
        self.skipped: dict[str, str] = {}  # providers left out at build time, and why
        self._sleep = sleep
        self._local_state = threading.local()

    # --- what the last call on this thread did, for `secretary llm test` and tests ---
    @property
    def last_attempts(self) -> list[Attempt]:
        attempts: list[Attempt] = getattr(self._local_state, "attempts", [])
        return attempts

    def breaker(self, provider: str) -> CircuitBreaker:
        return next(link.breaker for link in self.links if link.name == provider)

    # --- IntelligenceTier ---
    def classify(self, email: EmailInput) -> Classification:
        answer = self._ask(prompts.classify_messages(email), prompts.ClassificationAnswer)
        if answer is None:
            return self._fallback(self.local.classify(email))
        value = answer.value
        # Classification carries no actions: suggestions are checked and logged, never kept.
        self._filter([*value.suggested_actions, *answer.tool_calls], task="classify")
        flags = {
            name: value.confidence if getattr(value, name) else 1 - value.confidence
            for name in ("meeting_request", "cold_outreach", "has_deadline")
        }
        return Classification(
            category=value.category,
            category_confidence=value.confidence,
            meeting_request=value.meeting_request,
            cold_outreach=value.cold_outreach,
            has_deadline=value.has_deadline,
            flag_confidences=flags,
            priority=value.priority,
            reason=value.reason,
            model=f"{answer.provider}:{answer.model}",
            scores={value.category.value: value.confidence},
            usage=answer.usage,
        )

    def extract(self, email: EmailInput) -> Extraction:
        answer = self._ask(prompts.extract_messages(email), Extraction)
        if answer is None:
            return self.local.extract(email)
        return answer.value

    def draft_reply(self, request: DraftRequest) -> DraftResult:
        answer = self._ask(prompts.draft_messages(request), prompts.DraftAnswer)
        if answer is None:
            return self._fallback(self.local.draft_reply(request))
        value = answer.value
        allowed = self._filter([*value.suggested_actions, *answer.tool_calls], task="draft")
        body = value.body.strip() if value.should_draft else ""
        confidence, reason = value.confidence, value.reason
        invented = prompts.unsupported_amounts(body, request)
        if invented:
            # Kept for the user to fix, but flagged and never presented as a confident draft.
            confidence = min(confidence, 0.2)
            note = "check: amounts not found in the thread: " + ", ".join(invented[:5])
            reason = f"{reason} [{note}]" if reason else note
            log.warning("llm.draft_unsupported_amounts", count=len(invented))
        return DraftResult(
            should_draft=bool(body),
            body=body,
            intent=value.intent,
            confidence=confidence,
            reason=reason,
            model=f"{answer.provider}:{answer.model}",
            proposed_actions=allowed,
            usage=answer.usage,
        )

    def ask(self, messages: list[ChatMessage], schema: type[T]) -> Answer[T] | None:
        """One structured call through the chain (cache, breaker, retries, one repair);
        None when no provider gave a valid answer. For callers with their own prompts."""
        return self._ask(messages, schema)

    # --- machinery ---
    def _filter(self, raw: Sequence[Any], *, task: str) -> list[ProposedAction]:
        loose = [a.model_dump() if isinstance(a, BaseModel) else a for a in raw]
        allowed, rejected = filter_actions(loose)
        if rejected:
            log.warning(
                "llm.actions_rejected",
                task=task,
                count=len(rejected),
                kinds=sorted({r.kind for r in rejected}),
            )
        return allowed

    def _fallback(self, result: R) -> R:
        # Auth errors carry their fix (which setting to check): the user should see it.
        failures = [
            f"{a.provider} {a.outcome}" + (f": {a.detail}" if a.outcome == "auth_error" else "")
            for a in self.last_attempts
            if a.outcome != "ok"
        ]
        if failures:
            note = "LLM providers failed (" + ", ".join(failures) + "); local tier answered"
            result.reason = f"{result.reason} [{note}]" if result.reason else note
        return result

    def _ask(self, messages: list[ChatMessage], schema: type[T]) -> Answer[T] | None:
        attempts: list[Attempt] = []
        self._local_state.attempts = attempts
        for link in self.links:
            answer = self._from_cache(link, messages, schema)
            if answer is not None:
                attempts.append(Attempt(link.name, "cached"))
                return answer
            if not link.breaker.allow():
                attempts.append(Attempt(link.name, "circuit_open"))
                continue
            try:
                answer = self._ask_one(link, messages, schema)
            except ProviderError as exc:
                outcome = _outcome_of(exc)
                attempts.append(Attempt(link.name, outcome, exc.message))
                if outcome == "invalid_output":
                    link.breaker.record_success()  # it answered: up, just unhelpful
                    log.warning("llm.invalid_output", provider=link.name, schema=schema.__name__)
                elif outcome == "auth_error":
                    link.breaker.record_failure()
                    log.error("llm.auth_failed", provider=link.name, hint=exc.message)
                else:
                    link.breaker.record_failure()
                    log.warning("llm.provider_failed", provider=link.name, outcome=outcome)
                continue
            except Exception as exc:
                # An SDK or adapter bug must not stop the product: count it, fall through.
                link.breaker.record_failure()
                attempts.append(Attempt(link.name, "error", type(exc).__name__))
                log.error("llm.provider_crashed", provider=link.name, error=type(exc).__name__)
                continue
            link.breaker.record_success()
            attempts.append(Attempt(link.name, "ok"))
            return answer
        return None

    def _from_cache(
        self, link: Link, messages: list[ChatMessage], schema: type[T]
    ) -> Answer[T] | None:
        if self.cache is None:
            return None
        entry = self.cache.get(cache_key(link.name, link.provider.model, messages, schema))
        if entry is None:
            return None
        try:
            value = schema.model_validate_json(entry.text)
        except ValidationError:
            return None
        usage = Usage(
            provider=link.name,
            model=link.provider.model,
            input_tokens=entry.input_tokens,
            output_tokens=entry.output_tokens,
            cost_usd=0.0,
            cached=True,
        )
        self.meter.add(usage)
        return Answer(value, usage, link.name, link.provider.model)

    def _ask_one(self, link: Link, messages: list[ChatMessage], schema: type[T]) -> Answer[T]:
        result = self._call(link, messages, schema)
        usages = [result.usage]
        if result.validation_error is not None:
            # Exactly one repair turn: show the model its answer and what was wrong with it.
            repair = [
                *messages,
                ChatMessage(role="assistant", content=result.text or "(no JSON answer)"),
                prompts.repair_message(result.validation_error),
            ]
            result = self._call(link, repair, schema)
            usages.append(result.usage)
        usage = _sum_usage(usages)
        if result.validation_error is not None or not isinstance(result.parsed, schema):
            raise InvalidModelOutput(
                link.name, "the answer did not match the schema after one repair"
            )
        if self.cache is not None:
            self.cache.put(
                cache_key(link.name, link.provider.model, messages, schema),
                result.parsed.model_dump_json(),
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
            )
        calls = [ProposedAction(kind=c.name, params=c.arguments) for c in result.tool_calls]
        return Answer(result.parsed, usage, link.name, link.provider.model, calls)

    def _call(self, link: Link, messages: list[ChatMessage], schema: type[T]) -> ChatResult:
        retrying = Retrying(
            retry=retry_if_exception_type(ProviderRetryable),
            stop=stop_any(
                stop_after_attempt(self.max_retries + 1),
                _StopOnLongRetryAfter(self.max_retry_wait_seconds),
            ),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        result: ChatResult = retrying(
            link.provider.chat, messages, schema=schema, timeout=self.timeout_seconds
        )
        self.meter.add(result.usage)
        log.info(
            "llm.call",
            provider=result.usage.provider,
            model=result.usage.model,
            input_tokens=result.usage.input_tokens,
            output_tokens=result.usage.output_tokens,
            cost_usd=result.usage.cost_usd,
        )
        return result

    _backoff = wait_exponential_jitter(initial=0.5, max=8.0)

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            return float(retry_after)
        return float(self._backoff(state))


class _StopOnLongRetryAfter(stop_base):
    """A Retry-After longer than we are willing to wait: fail over instead of waiting."""

    def __init__(self, max_wait_seconds: float) -> None:
        self.max_wait_seconds = max_wait_seconds

    def __call__(self, retry_state: RetryCallState) -> bool:
        exc = retry_state.outcome.exception() if retry_state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        return retry_after is not None and retry_after > self.max_wait_seconds


def _sum_usage(usages: Sequence[Usage]) -> Usage:
    first = usages[0]
    if len(usages) == 1:
        return first
    total = make_usage(
        first.provider,
        first.model,
        sum(u.input_tokens for u in usages),
        sum(u.output_tokens for u in usages),
    )
    return total


def build_chain(
    settings: Settings,
    *,
    local: IntelligenceTier | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ProviderChain:
    """The configured chain. Providers that are not configured are skipped, with the reason.

    ``local`` is appended when the configuration leaves it out: the chain always ends there.
    """
    llm = settings.llm
    names = list(llm.chain)
    if "local" in names:
        names = names[: names.index("local")]  # nothing after local is ever reached
    providers: list[ChatProvider] = []
    skipped: dict[str, str] = {}
    for name in names:
        try:
            provider = create_provider(name, settings)
        except ConfigurationError as exc:
            skipped[name] = exc.message
            log.warning("llm.provider_skipped", provider=name, reason=exc.message)
            continue
        if not isinstance(provider, ChatProvider):
            skipped[name] = (
                "not a chat provider; only the final local tier may think without prompts"
            )
            continue
        providers.append(provider)
    local_tier = local if local is not None else create_provider("local", settings)
    if isinstance(local_tier, ChatProvider):
        raise ConfigurationError("the 'local' provider must be an IntelligenceTier")
    chain = ProviderChain(
        providers,
        local_tier,
        cache=ResponseCache(ttl_seconds=llm.cache_ttl_seconds, clock=clock),
        max_retries=llm.max_retries,
        max_retry_wait_seconds=llm.max_retry_wait_seconds,
        timeout_seconds=llm.timeout_seconds,
        clock=clock,
        sleep=sleep,
    )
    chain.skipped = skipped
    return chain


class ProviderCheck(BaseModel):
    """The result of one live check of a configured provider (``secretary llm test``)."""

    provider: str
    status: Literal["ok", "not_configured", "auth_error", "error"]
    model: str = ""
    message: str = ""
    latency_ms: int | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0


def check_providers(
    settings: Settings, *, names: Sequence[str] | None = None
) -> list[ProviderCheck]:
    """Send one tiny request to each provider in the chain (no retries) and the local tier."""
    wanted = list(names) if names else list(settings.llm.chain)
    if "local" not in wanted and not names:
        wanted.append("local")
    ping = [
        ChatMessage(role="system", content="Reply with the single word OK."),
        ChatMessage(role="user", content="ping"),
    ]
    checks: list[ProviderCheck] = []
    for name in wanted:
        try:
            provider = create_provider(name, settings)
        except ConfigurationError as exc:
            checks.append(
                ProviderCheck(provider=name, status="not_configured", message=exc.message)
            )
            continue
        if not isinstance(provider, ChatProvider):
            checks.append(ProviderCheck(provider=name, status="ok", message="offline tier loaded"))
            continue
        started = time.monotonic()
        try:
            result = provider.chat(ping, timeout=settings.llm.timeout_seconds)
        except ProviderAuthError as exc:
            checks.append(
                ProviderCheck(
                    provider=name, model=provider.model, status="auth_error", message=exc.message
                )
            )
            continue
        except ProviderError as exc:
            checks.append(
                ProviderCheck(
                    provider=name, model=provider.model, status="error", message=exc.message
                )
            )
            continue
        checks.append(
            ProviderCheck(
                provider=name,
                model=provider.model,
                status="ok",
                message=result.text.strip()[:40],
                latency_ms=int((time.monotonic() - started) * 1000),
                input_tokens=result.usage.input_tokens,
                output_tokens=result.usage.output_tokens,
                cost_usd=result.usage.cost_usd,
            )
        )
    return checks
