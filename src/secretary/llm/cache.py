"""A response cache for LLM calls, keyed on (provider, model, prompt, schema), with a TTL.

In-process and bounded (least recently used out first): the same email is often classified
twice in a burst (push plus safety poll), and a cache hit costs nothing. Values are the
validated JSON text, so a hit is re-validated against the schema like any answer.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pydantic import BaseModel

from secretary.llm.provider import ChatMessage


@dataclass(frozen=True)
class CachedAnswer:
    text: str
    input_tokens: int
    output_tokens: int
    stored_at: float


def cache_key(
    provider: str, model: str, messages: Sequence[ChatMessage], schema: type[BaseModel] | None
) -> str:
    payload = {
        "provider": provider,
        "model": model,
        "messages": [m.model_dump() for m in messages],
        "schema": schema.model_json_schema() if schema is not None else None,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


class ResponseCache:
    def __init__(
        self,
        *,
        ttl_seconds: float,
        max_entries: int = 2048,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, CachedAnswer] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: str) -> CachedAnswer | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._clock() - entry.stored_at > self.ttl_seconds:
                if entry is not None:
                    del self._entries[key]
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry

    def put(self, key: str, text: str, *, input_tokens: int, output_tokens: int) -> None:
        if self.ttl_seconds <= 0:
            return
        with self._lock:
            self._entries[key] = CachedAnswer(text, input_tokens, output_tokens, self._clock())
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
