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

Each charge used to be two round trips (take, then release), two commits and five row
writes in Postgres: about 60% of all commits the pipeline made per message (issue #14).
So a process now amortises them, without loosening either limit:

- **Units in small reserves.** A take asks for a little more than the call needs (up to
  ``RESERVE_UNITS``, at most an eighth of the bucket) and spends the rest locally for at
  most ``RESERVE_SECONDS``; what is left then is dropped, never returned. Units taken from
  the bucket within ``[t - RESERVE_SECONDS, t + 60]`` bound what is spent in ``[t, t + 60]``,
  and ``capacity + 60.5 * rate`` stays under the limit (the bucket is sized with 61 s).
- **Leases kept warm briefly.** A finished call parks its lease; the next call in this
  process within ``LEASE_REUSE_SECONDS`` of the lease's take reuses it without a round
  trip. Older leases, and leases idle for ``PARKED_IDLE_SECONDS``, are deleted, by the next
  take in the same statement or by a flusher thread, so another process waits for a slot
  at most about that long. A process never uses more slots than it holds rows for, so the
  limit on live leases still bounds every process together.
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
LEASE_REUSE_SECONDS = 1.0  # a lease serves calls for at most this long after its take
PARKED_IDLE_SECONDS = 0.05  # an unused parked lease goes back to the others after this
RESERVE_SECONDS = 0.5  # <= 1 s: the bucket's 61 s sizing leaves one second of slack
RESERVE_UNITS = 50  # the most units one take asks for beyond the call's own

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
create or replace function secretary_quota_take2(
  p_key text, p_units double precision, p_capacity double precision,
  p_rate double precision, p_max integer, p_lease double precision, p_take_lease boolean,
  p_release bigint[]
) returns table (lease_id bigint, wait_seconds double precision)
language plpgsql as $fn$
declare
  v_now double precision := extract(epoch from clock_timestamp());
  v_tokens double precision;
  v_live integer;
  v_id bigint;
begin
  perform pg_advisory_xact_lock(hashtextextended(p_key, 0));
  if cardinality(p_release) > 0 then  -- leases this process has finished with
    delete from quota_leases where id = any(p_release);
  end if;
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
    "select lease_id, wait_seconds "
    "from secretary_quota_take2(:k, :u, :c, :r, :m, :l, :take_lease, :release)"
)
_RELEASE = text("delete from quota_leases where id = any(:ids)")
_ready: set[str] = set()


class _Flusher:
    """One daemon thread for every governor of the process: hands parked leases back once
    they have been idle for ``PARKED_IDLE_SECONDS`` (or lived ``LEASE_REUSE_SECONDS``)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: set[SharedQuotaGovernor] = set()
        self._thread: threading.Thread | None = None

    def wake(self, governor: SharedQuotaGovernor) -> None:
        with self._cond:
            self._pending.add(governor)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="secretary-quota-flusher", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                governors = list(self._pending)
            next_due: float | None = None
            for governor in governors:
                due = governor.flush_idle()
                if due is None:
                    with self._cond:
                        if not governor.has_parked():
                            self._pending.discard(governor)
                else:
                    next_due = due if next_due is None else min(next_due, due)
            if next_due is not None:
                with self._cond:
                    self._cond.wait(max(next_due - time.monotonic(), 0.005))


_flusher = _Flusher()


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
        self._lock = threading.Lock()
        self._reserve = 0.0  # units taken from the bucket, not spent yet
        self._reserve_until = 0.0
        self._parked: list[tuple[int, float, float]] = []  # (lease id, taken at, parked at)
        self._finished: list[int] = []  # leases to delete with the next round trip
        self.round_trips = 0  # takes and releases sent to the database

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

    # --- local reserves ----------------------------------------------------------------------

    def _spend_reserve(self, units: int) -> bool:
        with self._lock:
            if self._reserve >= units and time.monotonic() < self._reserve_until:
                self._reserve -= units
                return True
            return False

    def _ask_for(self, units: int) -> int:
        """Units to take from the bucket for a call of ``units``: a little extra to reserve."""
        return max(units, min(RESERVE_UNITS, int(self.capacity / 8)))

    def _keep_reserve(self, taken: int, spent: int, at: float) -> None:
        with self._lock:
            if taken > spent:
                self._reserve = float(taken - spent)
                self._reserve_until = at + RESERVE_SECONDS

    # --- leases ------------------------------------------------------------------------------

    def _reuse_lease(self) -> tuple[int, float] | None:
        now = time.monotonic()
        with self._lock:
            while self._parked:
                lease_id, taken_at, _ = self._parked.pop()
                if now - taken_at < LEASE_REUSE_SECONDS:
                    return lease_id, taken_at
                self._finished.append(lease_id)
        return None

    def _park(self, lease_id: int, taken_at: float) -> None:
        now = time.monotonic()
        with self._lock:
            if now - taken_at < LEASE_REUSE_SECONDS:
                self._parked.append((lease_id, taken_at, now))
            else:
                self._finished.append(lease_id)
        _flusher.wake(self)

    def _take_finished(self) -> list[int]:
        with self._lock:
            finished, self._finished = self._finished, []
        return finished

    def has_parked(self) -> bool:
        with self._lock:
            return bool(self._parked or self._finished)

    def flush_idle(self) -> float | None:
        """Delete leases idle or old enough; the monotonic time of the next due, or None."""
        now = time.monotonic()
        due: float | None = None
        with self._lock:
            keep = []
            for lease_id, taken_at, parked_at in self._parked:
                expires = min(parked_at + PARKED_IDLE_SECONDS, taken_at + LEASE_REUSE_SECONDS)
                if expires <= now:
                    self._finished.append(lease_id)
                else:
                    keep.append((lease_id, taken_at, parked_at))
                    due = expires if due is None else min(due, expires)
            self._parked = keep
        finished = self._take_finished()
        if finished:
            self._release(finished)
        return due

    # --- the database ------------------------------------------------------------------------

    def _try_take(self, units: int, *, lease: bool) -> tuple[int | None, float]:
        """(lease id or 0 when taken, else None; seconds to wait before trying again)."""
        release = self._take_finished()
        with self._lock:
            self.round_trips += 1
        params = {
            "k": self.user_key,
            "u": float(units),
            "c": self.capacity,
            "r": self.rate,
            "m": self.max_concurrent,
            "l": LEASE_SECONDS,
            "take_lease": lease,
            "release": release,
        }
        try:
            with self._auto.connect() as conn:
                row = conn.execute(_TAKE, params).one()
        except OperationalError as exc:
            # A pooled connection the server dropped while it sat idle (a restart, a
            # failover): the pool has invalidated it, so charge once more on a fresh one.
            # The charge is one statement in autocommit, so a failed one took nothing.
            if not exc.connection_invalidated:
                with self._lock:
                    self._finished.extend(release)
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
        if self._spend_reserve(units):
            self._record(units, 0.0)
            return
        asked = self._ask_for(units)
        _, waited = self._take(asked, lease=False)
        self._keep_reserve(asked, units, time.monotonic())
        self._record(units, waited)

    @contextmanager
    def slot(self, units: int) -> Iterator[None]:
        with self._semaphore:
            reused = self._reuse_lease()
            if reused is not None:
                lease_id, taken_at = reused
                if not self._spend_reserve(units):
                    self.charge(units)
                else:
                    self._record(units, 0.0)
            else:
                asked = self._ask_for(units)
                lease_id, waited = self._take(asked, lease=True)
                taken_at = time.monotonic()
                self._keep_reserve(asked, units, taken_at)
                self._record(units, waited)
            try:
                yield
            finally:
                self._park(lease_id, taken_at)

    def _release(self, lease_ids: list[int]) -> None:
        with self._lock:
            self.round_trips += 1
        try:
            with self._auto.connect() as conn:
                conn.execute(_RELEASE, {"ids": lease_ids})
        except Exception:
            from secretary.kit.logging import get_logger

            # They expire by themselves after LEASE_SECONDS.
            get_logger(__name__).warning("quota_lease_not_released", leases=len(lease_ids))

    def release_all(self) -> None:
        """Hand every parked lease back now (tests, and a process about to exit)."""
        with self._lock:
            self._finished.extend(lease_id for lease_id, _, _ in self._parked)
            self._parked = []
        finished = self._take_finished()
        if finished:
            self._release(finished)

    def snapshot(self) -> dict[str, Any]:
        with self._engine.begin() as conn:
            row = conn.execute(
                text("select tokens from quota_buckets where user_key = :k"), {"k": self.user_key}
            ).first()
        return {"tokens": float(row[0]) if row else self.capacity, "capacity": self.capacity}
