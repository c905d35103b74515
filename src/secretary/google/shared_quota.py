"""The per-user Google quota shared by every process of a deployment, in PostgreSQL.

``QuotaGovernor`` keeps its token bucket and concurrency limit in process memory, so two
workers syncing the same user would each spend the whole allowance. This governor keeps
both in the database every process already shares (no new infrastructure: Redis is only
there when Celery is):

- ``quota_buckets``: one row per user — tokens and the time they were counted (database
  clock, so hosts with skewed clocks agree). Same sizing as ``QuotaGovernor``: capacity
  ``C = limit / 24``, refill ``(limit - C) / 61`` per second, so no rolling 60 s window
  ever holds more than the limit.
- ``quota_leases``: one row per request in flight; at most ``max_concurrent`` live rows per
  user. A lease expires after ``LEASE_SECONDS`` (longer than the HTTP timeout), so a
  process killed mid-request frees its slots by itself.

A charge is one short transaction serialized per user by a transaction-level advisory
lock: refill, check tokens and live leases, take both or learn how long to wait. The
in-process semaphore still bounds this process's own threads first, so waiting for a slot
polls the database only when *other* processes hold the rest.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import OperationalError

from secretary.config import Settings
from secretary.google.quota import MIN_CAPACITY, QuotaGovernor

LEASE_SECONDS = 120.0  # > HTTP_TIMEOUT_SECONDS (60): a live request never loses its slot

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _engine_for(settings: Settings, pool_size: int) -> Engine:
    from sqlalchemy import create_engine

    from secretary.db.engine import resolve_database_url

    url = resolve_database_url(settings)
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            # No pre-ping: a charge is one round trip and should stay one (connections are
            # recycled instead, and a dead one fails that charge, which the caller retries).
            engine = _engines[url] = create_engine(
                url,
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_recycle=300,
                hide_parameters=True,
            )
        return engine


# One round trip per charge: the function takes the user's advisory lock (transaction
# scope: held only while it runs), refills the bucket, counts live leases and either takes
# units and a lease or says how long to wait. Created (or replaced) on first use, so it
# needs no migration of its own.
_FUNCTION_SQL = """
create or replace function secretary_quota_take(
  p_key text, p_units double precision, p_capacity double precision,
  p_rate double precision, p_max integer, p_lease double precision, p_take_lease boolean
) returns table (lease_id bigint, wait_seconds double precision)
language plpgsql as $fn$
declare
  v_now double precision := extract(epoch from clock_timestamp());
  v_tokens double precision;
  v_live integer;
  v_id bigint;
begin
  perform pg_advisory_xact_lock(hashtextextended(p_key, 0));
  insert into quota_buckets as b (user_key, tokens, updated_at)
  values (p_key, p_capacity, v_now)
  on conflict (user_key) do update
    set tokens = least(p_capacity, b.tokens + greatest(0, v_now - b.updated_at) * p_rate),
        updated_at = v_now
  returning b.tokens into v_tokens;
  if v_tokens < p_units then
    return query select null::bigint, greatest((p_units - v_tokens) / p_rate, 0.001);
    return;
  end if;
  if p_take_lease then
    select count(*) into v_live from quota_leases
     where user_key = p_key and expires_at > v_now;
    if v_live >= p_max then
      return query select null::bigint, 0.02::double precision;
      return;
    end if;
    if v_live = 0 then  -- tidy leases a killed process left behind
      delete from quota_leases where user_key = p_key and expires_at <= v_now;
    end if;
    insert into quota_leases (user_key, expires_at) values (p_key, v_now + p_lease)
    returning id into v_id;
  else
    v_id := 0;
  end if;
  update quota_buckets set tokens = tokens - p_units where user_key = p_key;
  return query select v_id, 0::double precision;
end
$fn$;
"""
_TAKE = text(
    "select lease_id, wait_seconds from secretary_quota_take(:k, :u, :c, :r, :m, :l, :take_lease)"
)
_ready: set[str] = set()


class SharedQuotaGovernor(QuotaGovernor):
    """``QuotaGovernor`` whose units and concurrency are shared across processes."""

    def __init__(
        self, user_key: str, units_per_minute: int, max_concurrent: int, *, settings: Settings
    ) -> None:
        super().__init__(units_per_minute, max_concurrent)
        self.user_key = f"google:{user_key}"
        self.capacity = max(units_per_minute / 24, MIN_CAPACITY)
        self.rate = max(units_per_minute - self.capacity, 1.0) / 61.0
        self.bucket = None  # the database holds it
        self._engine = _engine_for(settings, pool_size=max(2, self.max_concurrent))
        # Each charge and release is one statement in its own transaction: one round trip.
        self._auto = self._engine.execution_options(isolation_level="AUTOCOMMIT")
        self._ensure_function()

    @property
    def max_batch_cost(self) -> int:
        return int(self.capacity)

    def _ensure_function(self) -> None:
        url = str(self._engine.url)
        with _engines_lock:
            if url in _ready:
                return
        with self._engine.begin() as conn:
            conn.execute(text("select pg_advisory_xact_lock(hashtextextended('quota_fn', 0))"))
            conn.execute(text(_FUNCTION_SQL))
        with _engines_lock:
            _ready.add(url)

    def _try_take(self, units: int, *, lease: bool) -> tuple[int | None, float]:
        """(lease id or 0 when taken, else None; seconds to wait before trying again)."""
        params = {
            "k": self.user_key,
            "u": float(units),
            "c": self.capacity,
            "r": self.rate,
            "m": self.max_concurrent,
            "l": LEASE_SECONDS,
            "take_lease": lease,
        }
        try:
            with self._auto.connect() as conn:
                row = conn.execute(_TAKE, params).one()
        except OperationalError as exc:
            # A pooled connection the server dropped while it sat idle (a restart, a
            # failover): the pool has invalidated it, so charge once more on a fresh one.
            # The charge is one statement in autocommit, so a failed one took nothing.
            if not exc.connection_invalidated:
                raise
            with self._auto.connect() as conn:
                row = conn.execute(_TAKE, params).one()
        if row[0] is None:
            return None, float(row[1])
        return int(row[0]), 0.0

    def _take(self, units: int, *, lease: bool) -> tuple[int, float]:
        if units > self.capacity:
            raise ValueError(f"a single charge of {units} exceeds the bucket of {self.capacity}")
        waited = 0.0
        while True:
            got, wait = self._try_take(units, lease=lease)
            if got is not None:
                return got, waited
            time.sleep(wait)
            waited += wait

    def _record(self, units: int, waited: float) -> None:
        with self._stats_lock:
            self.stats.units_charged += units
            self.stats.calls += 1
            self.stats.seconds_waited += waited

    def charge(self, units: int) -> None:
        _, waited = self._take(units, lease=False)
        self._record(units, waited)

    @contextmanager
    def slot(self, units: int) -> Iterator[None]:
        with self._semaphore:
            lease_id, waited = self._take(units, lease=True)
            self._record(units, waited)
            try:
                yield
            finally:
                self._release(lease_id)

    def _release(self, lease_id: int) -> None:
        try:
            with self._auto.connect() as conn:
                conn.execute(text("delete from quota_leases where id = :i"), {"i": lease_id})
        except Exception:
            from secretary.kit.logging import get_logger

            get_logger(__name__).warning("quota_lease_not_released")

    def snapshot(self) -> dict[str, Any]:
        with self._engine.begin() as conn:
            row = conn.execute(
                text("select tokens from quota_buckets where user_key = :k"), {"k": self.user_key}
            ).first()
        return {"tokens": float(row[0]) if row else self.capacity, "capacity": self.capacity}
