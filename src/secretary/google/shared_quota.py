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

from secretary.config import Settings
from secretary.google.quota import QuotaGovernor

LEASE_SECONDS = 120.0  # > HTTP_TIMEOUT_SECONDS (60): a live request never loses its slot
SLOT_POLL_SECONDS = 0.02

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def _engine_for(settings: Settings, pool_size: int) -> Engine:
    from secretary.db.engine import make_engine, resolve_database_url

    url = resolve_database_url(settings)
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = _engines[url] = make_engine(settings, url=url, pool_size=pool_size)
        return engine


_TAKE_SQL = text(
    """
with now_ as (select extract(epoch from clock_timestamp()) as t),
bucket as (
  insert into quota_buckets as b (user_key, tokens, updated_at)
  select :key, :capacity, now_.t from now_
  on conflict (user_key) do update
    set tokens = least(:capacity, b.tokens + greatest(0, excluded.updated_at - b.updated_at) * :rate),
        updated_at = excluded.updated_at
  returning b.tokens, b.updated_at
)
select bucket.tokens, bucket.updated_at,
       (select count(*) from quota_leases l
         where l.user_key = :key and l.expires_at > bucket.updated_at) as live
from bucket
"""
)


class SharedQuotaGovernor(QuotaGovernor):
    """``QuotaGovernor`` whose units and concurrency are shared across processes."""

    def __init__(
        self, user_key: str, units_per_minute: int, max_concurrent: int, *, settings: Settings
    ) -> None:
        super().__init__(units_per_minute, max_concurrent)
        self.user_key = f"google:{user_key}"
        self.capacity = max(units_per_minute / 24, 50.0)
        self.rate = max(units_per_minute - self.capacity, 1.0) / 61.0
        self.bucket = None  # the database holds it
        self._engine = _engine_for(settings, pool_size=max(2, self.max_concurrent))

    @property
    def max_batch_cost(self) -> int:
        return int(self.capacity)

    def _try_take(self, units: int, *, lease: bool) -> tuple[int | None, float]:
        """(lease id or 0 when taken, else None; seconds to wait before trying again)."""
        with self._engine.begin() as conn:
            conn.execute(
                text("select pg_advisory_xact_lock(hashtextextended(:k, 0))"), {"k": self.user_key}
            )
            row = conn.execute(
                _TAKE_SQL, {"key": self.user_key, "capacity": self.capacity, "rate": self.rate}
            ).one()
            tokens, now, live = float(row[0]), float(row[1]), int(row[2])
            if tokens < units:
                return None, max((units - tokens) / self.rate, 0.001)
            if lease and live >= self.max_concurrent:
                return None, SLOT_POLL_SECONDS
            conn.execute(
                text("update quota_buckets set tokens = tokens - :u where user_key = :k"),
                {"u": units, "k": self.user_key},
            )
            if not lease:
                return 0, 0.0
            lease_id = conn.execute(
                text(
                    "insert into quota_leases (user_key, expires_at) values (:k, :e) returning id"
                ),
                {"k": self.user_key, "e": now + LEASE_SECONDS},
            ).scalar_one()
            if live == 0:  # tidy expired leases now and then (a killed process's)
                conn.execute(
                    text("delete from quota_leases where user_key = :k and expires_at <= :t"),
                    {"k": self.user_key, "t": now},
                )
            return int(lease_id), 0.0

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
            with self._engine.begin() as conn:
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
