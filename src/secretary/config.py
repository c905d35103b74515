"""The one ``Settings`` object: environment (``SECRETARY_`` prefix), ``.env``, defaults.

Nested sections per domain use ``__`` as delimiter, e.g. ``SECRETARY_SYNC__WINDOW_DAYS=14``.
``DATABASE_URL`` (no prefix) is honoured too, because every hosting platform sets it.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, BaseModel, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_ENCRYPTION_KEY = (
    "c2VjcmV0YXJ5LWRldi1rZXktbm90LWZvci1wcm9kISE="  # base64("secretary-dev-key-not-for-prod!!")
)


DEV_PUSH_AUDIENCE = "secretary-push"
DEV_KEY_FILE = "dev-encryption.key"


def dev_key(home: Path) -> str:
    """The dev install's Fernet key: read from ``home``, or generated there once (0600).

    Created under a temporary name and linked into place, so two processes starting at once
    agree on one key and neither reads a half-written file.
    """
    import base64
    import secrets

    path = home / DEV_KEY_FILE
    if path.exists():
        return path.read_text(encoding="ascii").strip()
    home.mkdir(parents=True, exist_ok=True)
    tmp = home / f".{DEV_KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, base64.urlsafe_b64encode(secrets.token_bytes(32)) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)
    except FileExistsError:
        pass  # another process won the race: use its key
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text(encoding="ascii").strip()


class HttpSettings(BaseModel):
    """Limits of the HTTP edge, enforced while a request body is read (issue 7)."""

    max_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="Largest request body of the API and UI."
    )
    max_webhook_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Largest request body of the push webhook."
    )


class GoogleSettings(BaseModel):
    """Where the Google APIs live. Point at the emulator by configuration only."""

    api_base_url: str | None = Field(
        default=None,
        description="Base URL of the Google APIs (None = real Google). The demo sets the emulator's URL.",
    )
    oauth_base_url: str | None = Field(
        default=None, description="Base URL of Google's OAuth server (None = real Google)."
    )
    client_id: str = Field(default="secretary-dev-client", description="OAuth client id.")
    client_secret: SecretStr = Field(
        default=SecretStr("secretary-dev-secret"), description="OAuth client secret."
    )
    redirect_uri: str = Field(
        default="http://127.0.0.1:8000/oauth/google/callback",
        description="OAuth redirect URI registered for the client.",
    )
    pubsub_audience: str = Field(
        default=DEV_PUSH_AUDIENCE,
        description="Expected audience of Pub/Sub push OIDC tokens (must be set in prod).",
    )
    pubsub_service_account: str | None = Field(
        default=None,
        description="The service account whose signed tokens push may send (the token's "
        "email claim). Required in prod; unset in dev accepts any Google-signed push.",
    )
    pubsub_topic: str = Field(
        default="projects/secretary/topics/gmail", description="Pub/Sub topic passed to watch()."
    )
    quota_units_per_minute: int = Field(
        default=6000,
        description="Per-user Gmail quota units per minute (Google's 2026 default); 0 = no client-side limit.",
    )
    max_concurrent_requests: int = Field(
        default=10, description="Per-user concurrent requests to Google."
    )
    quota_shared: bool = Field(
        default=True,
        description="Share each user's quota units and concurrency limit between all processes "
        "through the database (so two workers never exceed one user's allowance together).",
    )


class SyncSettings(BaseModel):
    window_days: int = Field(default=30, ge=7, le=90, description="Initial sync window in days.")
    batch_size: int = Field(
        default=50, ge=1, le=50, description="Messages per Google batch request."
    )
    poll_min_seconds: int = Field(default=30, description="Shortest safety-poll interval.")
    poll_max_seconds: int = Field(default=600, description="Longest safety-poll interval.")
    calendar_past_days: int = Field(
        default=366,
        ge=0,
        description="Recurring events are expanded into calendar_instances from this many days "
        "ago (events themselves are stored whatever their date).",
    )
    calendar_future_days: int = Field(
        default=731,
        ge=1,
        description="Recurring events are expanded into calendar_instances up to this many days ahead.",
    )
    calendar_page_size: int = Field(
        default=2500, ge=1, le=2500, description="Events per Calendar events.list page."
    )
    drive_page_size: int = Field(
        default=1000,
        ge=1,
        le=1000,
        description="Files per Drive files.list/changes.list page (a files.list page costs 100 units).",
    )
    drive_max_download_bytes: int = Field(
        default=10_000_000,
        ge=0,
        description="Drive files larger than this are kept as metadata only (reason recorded).",
    )
    drive_max_text_chars: int = Field(
        default=500_000, ge=1000, description="Text kept per Drive file; longer text is truncated."
    )


class TriageSettings(BaseModel):
    max_age_days: float = Field(
        default=3, description="Only messages newer than this are triaged and drafted for."
    )
    labels: dict[str, str] = Field(
        default_factory=lambda: {
            "needs_reply": "Secretary/Needs reply",
            "fyi": "Secretary/FYI",
            "newsletter": "Secretary/Newsletter",
            "notification": "Secretary/Notification",
            "spam": "Secretary/Spam",
        },
        description="Gmail label applied per category (omit a category to not label it).",
    )


class FollowupSettings(BaseModel):
    """Follow-ups (issue 13): your mail that got no answer, and mail you have not answered."""

    awaiting_reply_days: float = Field(
        default=3,
        gt=0,
        description="Days without an answer before mail you sent that asks something is listed as awaiting a reply (a thread may set its own).",
    )
    unanswered_days: float = Field(
        default=2,
        gt=0,
        description="Days before mail that needs your reply and has none is listed as unanswered (a thread may set its own).",
    )
    auto_nudge: bool = Field(
        default=False,
        description="Put a nudge draft in the approval queue for each thread awaiting a reply when follow-ups are listed, without being asked.",
    )


class LLMSettings(BaseModel):
    chain: list[str] = Field(
        default_factory=lambda: ["local"],
        description="Provider failover chain, e.g. ['openai', 'anthropic', 'local']. Always ends in local.",
    )
    openai_api_key: SecretStr | None = Field(default=None, description="OpenAI API key.")
    openai_base_url: str | None = Field(default=None, description="OpenAI-compatible base URL.")
    openai_model: str = Field(default="gpt-4o-mini", description="OpenAI model.")
    anthropic_api_key: SecretStr | None = Field(default=None, description="Anthropic API key.")
    anthropic_base_url: str | None = Field(default=None, description="Anthropic base URL.")
    # claude-3-5-haiku is past end of life (the SDK warns on every call); haiku-4-5 replaces it.
    anthropic_model: str = Field(default="claude-haiku-4-5", description="Anthropic model.")
    gemini_api_key: SecretStr | None = Field(default=None, description="Gemini API key.")
    gemini_base_url: str | None = Field(default=None, description="Gemini base URL.")
    gemini_model: str = Field(default="gemini-2.0-flash", description="Gemini model.")
    timeout_seconds: float = Field(default=30, description="Per-call timeout.")
    cache_ttl_seconds: int = Field(default=3600, description="Response cache TTL.")
    ollama_base_url: str = Field(
        default="http://localhost:11434/v1", description="Ollama's OpenAI-compatible endpoint."
    )
    ollama_model: str = Field(default="llama3.2", description="Ollama model.")
    max_retries: int = Field(
        default=2, ge=0, le=5, description="Retries per provider on 429, 5xx and timeouts."
    )
    max_retry_wait_seconds: float = Field(
        default=20, description="Longest Retry-After honoured; a longer wait fails over instead."
    )
    max_output_tokens: int = Field(default=1024, description="Answer length cap per call.")


class WorkerSettings(BaseModel):
    runtime: Literal["inline", "celery"] = Field(
        default="inline", description="Where tasks run: in-process asyncio, or Celery workers."
    )
    broker_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Celery broker (Redis or RabbitMQ URL)."
    )
    concurrency: int = Field(
        default=4,
        description="Tasks a worker runs at once: in-process threads or Celery prefork "
        "processes; a Celery threads pool runs twice as many.",
    )
    retry_base_seconds: float = Field(
        default=1.0, description="First retry delay; doubles per attempt, with jitter."
    )
    retry_max_seconds: float = Field(default=300.0, description="Longest retry delay.")
    lease_seconds: float = Field(
        default=60.0,
        description="A running task renews its claim every third of this; silent this long, it counts as lost.",
    )
    stuck_after_seconds: float = Field(
        default=60.0, description="A queued task not started after this long is re-dispatched."
    )
    sweep_interval_seconds: float = Field(
        default=30.0, description="How often the sweeper looks for stuck tasks."
    )
    queue_prefix: str = Field(
        default="", description="Prefix of Celery queue names, for deployments sharing a broker."
    )


def _default_rate_tiers() -> dict[str, dict[str, str]]:
    return {
        "standard": {
            "read": "600/minute",
            "write": "120/minute",
            "send": "30/minute;300/hour",
            "expensive": "20/minute",
        },
        "generous": {
            "read": "3000/minute",
            "write": "600/minute",
            "send": "120/minute",
            "expensive": "100/minute",
        },
    }


class SearchSettings(BaseModel):
    index_interval_seconds: float = Field(
        default=60.0,
        description="How often every user's search index catches up on label changes and deletions.",
    )
    vectors: bool = Field(
        default=True, description="Embed items for the vector side of search (else BM25 only)."
    )


class IdentitySettings(BaseModel):
    """Sign-in, sessions, API tokens, trusted hosts and per-user rate tiers (issue 7)."""

    session_ttl_hours: float = Field(
        default=336, gt=0, description="A browser session ends this long after sign-in."
    )
    trusted_hosts: list[str] = Field(
        default_factory=list,
        description="Host headers served; empty = the host of base_url plus localhost and 127.0.0.1.",
    )
    rate_tiers: dict[str, dict[str, str]] = Field(
        default_factory=_default_rate_tiers,
        description="Per-user limits by tier and route class (read, write, send, expensive), in the limits library's notation.",
    )
    default_rate_tier: str = Field(
        default="standard", description="The tier of users without one of their own."
    )
    rate_limit_storage: str | None = Field(
        default=None,
        description="limits storage URI; unset = in memory, or the Celery Redis broker when the Celery runtime is on.",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="SECRETARY_",
        env_file=".env",
        env_nested_delimiter="__",
        extra="ignore",
    )

    env: Literal["dev", "test", "prod"] = Field(
        default="dev", description="Deployment environment."
    )
    home: Path = Field(
        default=Path("~/.local/share/secretary"),
        description="Data home: the embedded database and local state live here.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("DATABASE_URL", "SECRETARY_DATABASE_URL"),
        description="External PostgreSQL (with pgvector). Unset = embedded PostgreSQL under home.",
    )
    encryption_keys: list[SecretStr] = Field(
        default_factory=list,
        description="Fernet keys for tokens at rest, newest first (MultiFernet). Unset outside "
        "prod = a random key generated once into home/dev-encryption.key (mode 0600).",
    )
    base_url: str = Field(default="http://127.0.0.1:8000", description="Public URL of the API.")
    log_level: str = Field(default="INFO", description="Log level.")
    log_json: bool = Field(default=True, description="Emit JSON logs (else console).")

    google: GoogleSettings = Field(default_factory=GoogleSettings)
    sync: SyncSettings = Field(default_factory=SyncSettings)
    triage: TriageSettings = Field(default_factory=TriageSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    identity: IdentitySettings = Field(default_factory=IdentitySettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    followups: FollowupSettings = Field(default_factory=FollowupSettings)
    http: HttpSettings = Field(default_factory=HttpSettings)

    @model_validator(mode="after")
    def _enforce_non_default_secrets(self) -> Settings:
        if self.env == "prod":
            if not self.encryption_keys or any(
                k.get_secret_value() == DEV_ENCRYPTION_KEY for k in self.encryption_keys
            ):
                raise ValueError("SECRETARY_ENCRYPTION_KEYS must be set to your own keys in prod")
            if self.google.client_secret.get_secret_value() == "secretary-dev-secret":
                raise ValueError("SECRETARY_GOOGLE__CLIENT_SECRET must be set in prod")
            if self.google.pubsub_audience == DEV_PUSH_AUDIENCE:
                raise ValueError(
                    "SECRETARY_GOOGLE__PUBSUB_AUDIENCE must be set in prod (the push "
                    "subscription's audience; the default is public)"
                )
            if not self.google.pubsub_service_account:
                raise ValueError(
                    "SECRETARY_GOOGLE__PUBSUB_SERVICE_ACCOUNT must be set in prod (the service "
                    "account your push subscription signs with)"
                )
        elif not self.encryption_keys:
            # A public constant would let anyone who reads the source decrypt a dev
            # install's Google tokens (and forge its CSRF tokens): one random key per home.
            self.encryption_keys = [SecretStr(dev_key(self.home_path))]
        return self

    def public_serving_problems(self) -> list[str]:
        """Why this configuration must not be served beyond localhost (empty: it may)."""
        problems = []
        if self.env != "prod":
            problems.append("SECRETARY_ENV is not prod")
        if not self.base_url.startswith("https://"):
            problems.append("SECRETARY_BASE_URL is not an https:// origin")
        if not self.identity.trusted_hosts:
            problems.append("SECRETARY_IDENTITY__TRUSTED_HOSTS is empty")
        if self.google.pubsub_audience == DEV_PUSH_AUDIENCE:
            problems.append("SECRETARY_GOOGLE__PUBSUB_AUDIENCE is the public default")
        if not self.google.pubsub_service_account:
            problems.append("SECRETARY_GOOGLE__PUBSUB_SERVICE_ACCOUNT is unset")
        return problems

    @property
    def home_path(self) -> Path:
        return Path(os.path.expanduser(self.home))


@lru_cache
def get_settings() -> Settings:
    return Settings()
