"""The provider registry: a name in ``Settings.llm.chain`` maps to a factory.

Built-ins register exactly as a third party would, through ``register_provider``; installed
packages can also declare an entry point in the ``secretary.llm_providers`` group pointing
at a ``register()`` function. A factory returns a ``ChatProvider`` (prompted by the chain)
or a whole ``IntelligenceTier`` (``local``, which thinks without prompts).
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from importlib.metadata import entry_points

from secretary.config import Settings
from secretary.errors import ConfigurationError
from secretary.kit.logging import get_logger
from secretary.llm.errors import UnknownProvider
from secretary.llm.provider import ChatProvider
from secretary.llm.schemas import IntelligenceTier

log = get_logger(__name__)

ProviderFactory = Callable[[Settings], ChatProvider | IntelligenceTier]

ENTRY_POINT_GROUP = "secretary.llm_providers"

_factories: dict[str, ProviderFactory] = {}
_plugins_loaded = False
_lock = threading.Lock()


def register_provider(name: str, factory: ProviderFactory, *, replace: bool = False) -> None:
    """Make ``name`` usable in ``SECRETARY_LLM__CHAIN``."""
    with _lock:
        if name in _factories and not replace:
            raise ConfigurationError(f"LLM provider {name!r} is already registered")
        _factories[name] = factory


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry.load()()
        except Exception:  # a broken plugin must not take the built-ins down with it
            log.exception("llm.plugin_failed", plugin=entry.name)


def provider_names() -> list[str]:
    _load_plugins()
    with _lock:
        return sorted(_factories)


def create_provider(name: str, settings: Settings) -> ChatProvider | IntelligenceTier:
    _load_plugins()
    with _lock:
        factory = _factories.get(name)
    if factory is None:
        known = ", ".join(sorted(_factories))
        raise UnknownProvider(f"unknown LLM provider {name!r} (known: {known})")
    return factory(settings)


def build_tier(settings: Settings, *, local: IntelligenceTier | None = None) -> IntelligenceTier:
    """The configured intelligence tier: the provider chain ending in ``local``, or ``local``
    alone when no LLM provider is configured. Compose once per process (workers, web)."""
    from secretary.llm.chain import build_chain  # the chain builds on this registry

    chain = build_chain(settings, local=local)
    return chain if chain.links else chain.local


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return getter() if callable(getter) else None


def _require_key(key: str | None, setting: str, provider: str) -> str:
    if not key:
        raise ConfigurationError(f"{provider} is in the chain but {setting} is not set")
    return key


def _openai(settings: Settings) -> ChatProvider:
    from secretary.llm.openai import OpenAIProvider

    llm = settings.llm
    key = _secret(llm.openai_api_key)
    if not llm.openai_base_url:  # a self-hosted compatible server may need no key
        key = _require_key(key, "SECRETARY_LLM__OPENAI_API_KEY", "openai")
    return OpenAIProvider(
        model=llm.openai_model,
        api_key=key,
        base_url=llm.openai_base_url,
        timeout=llm.timeout_seconds,
    )


def _ollama(settings: Settings) -> ChatProvider:
    from secretary.llm.openai import OpenAIProvider

    llm = settings.llm
    return OpenAIProvider(
        name="ollama",
        model=llm.ollama_model,
        api_key="ollama",  # Ollama ignores the key, the SDK insists on one
        base_url=llm.ollama_base_url,
        timeout=llm.timeout_seconds,
        key_setting="SECRETARY_LLM__OLLAMA_BASE_URL",
    )


def _anthropic(settings: Settings) -> ChatProvider:
    from secretary.llm.anthropic import AnthropicProvider

    llm = settings.llm
    return AnthropicProvider(
        model=llm.anthropic_model,
        api_key=_require_key(
            _secret(llm.anthropic_api_key), "SECRETARY_LLM__ANTHROPIC_API_KEY", "anthropic"
        ),
        base_url=llm.anthropic_base_url,
        timeout=llm.timeout_seconds,
        max_output_tokens=llm.max_output_tokens,
    )


def _gemini(settings: Settings) -> ChatProvider:
    from secretary.llm.gemini import GeminiProvider

    llm = settings.llm
    return GeminiProvider(
        model=llm.gemini_model,
        api_key=_require_key(
            _secret(llm.gemini_api_key), "SECRETARY_LLM__GEMINI_API_KEY", "gemini"
        ),
        base_url=llm.gemini_base_url,
        timeout=llm.timeout_seconds,
    )


def _local(settings: Settings) -> IntelligenceTier:
    # Imported by name: the local tier is a sibling package and loads its model lazily.
    try:
        local_tier = importlib.import_module("secretary.llm.local").LocalTier
    except (ImportError, AttributeError) as exc:
        raise ConfigurationError(
            "the local intelligence tier (secretary.llm.local.LocalTier) is not available"
        ) from exc
    from_settings = getattr(local_tier, "from_settings", None)
    try:
        tier: IntelligenceTier = (
            from_settings(settings) if callable(from_settings) else local_tier()
        )
    except FileNotFoundError as exc:
        raise ConfigurationError(
            f"the local tier's model artifact is missing ({exc.filename}); "
            "run `secretary train classifier`"
        ) from exc
    return tier


register_provider("openai", _openai)
register_provider("ollama", _ollama)
register_provider("anthropic", _anthropic)
register_provider("gemini", _gemini)
register_provider("local", _local)
