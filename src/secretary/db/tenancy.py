"""Tenant isolation in the database: the application role and row-level security (ADR 0012).

Every tenant table carries a ``user_id`` and one policy, ``tenant_isolation``:
``user_id = current_setting('secretary.user_id')::bigint``. Requests run as the
non-owner role ``secretary_app`` (``SET LOCAL ROLE``) with the signed-in user set for the
transaction (``set_config(..., true)``), so a query that forgot its ``where user_id = ...``
still sees only that user's rows, and with no user set it sees none. System work that spans
users (the sweeper, the sync scheduler, sign-in's token lookup) runs as the connecting role,
which owns the tables and therefore bypasses RLS; ``act_as_system`` says so explicitly.

Adding a tenant table: give it a ``user_id`` column and add its name to ``TENANT_TABLES``.
``migrate.upgrade`` applies the policy to every listed table after each upgrade, and
``tests/db/test_tenancy.py`` fails for a table with ``user_id`` that is not listed.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

APP_ROLE = "secretary_app"
USER_SETTING = "secretary.user_id"
POLICY = "tenant_isolation"

#: Tables whose rows belong to one user (each has ``user_id``). Other streams add theirs.
TENANT_TABLES: tuple[str, ...] = (
    "google_accounts",
    "audit_log",
    "labels",
    "messages",
    "threads",
    "attachments",
    "sync_states",
    "rules",
    "drafts",
    "draft_feedback",  # reject reasons, regenerate instructions (issue 12)
    "task_records",
    "triage_results",
    "web_sessions",
    "api_tokens",
    # workspace sync (issue 8)
    "calendars",
    "calendar_events",
    "calendar_instances",
    "drive_files",
    # search index (issue 9)
    "search_items",
    "search_vectors",
    # voice (issue 13)
    "style_preferences",
    # ask (issue 11)
    "conversations",
    "conversation_turns",
    # scheduling (issue 10)
    "scheduling_preferences",
    "meeting_offers",
    "proposed_actions",
)

#: ``users`` is scoped on its own ``id``: a user sees only their own row.
USERS_TABLE = "users"

# No BYPASSRLS, no login: requests switch to it with SET LOCAL ROLE. The connecting role
# must be a member to switch (a superuser need not be).
_ENSURE_ROLE_SQL = (
    """
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'APP') then
    begin
      create role APP nologin nobypassrls;
    exception when duplicate_object or unique_violation then null;
    end;
  end if;
  if not (select rolsuper from pg_roles where rolname = current_user)
     and not pg_has_role(current_user, 'APP', 'member') then
    execute 'grant APP to ' || quote_ident(current_user);
  end if;
end
$$;
"""
).replace("APP", APP_ROLE)

_CURRENT_USER = f"nullif(current_setting('{USER_SETTING}', true), '')::bigint"


def act_as(session: Session | Connection, user_id: int) -> None:
    """From here to the end of the transaction: the app role, seeing only ``user_id``'s rows."""
    session.execute(text(f"set local role {APP_ROLE}"))
    session.execute(
        text("select set_config(:name, :value, true)"),
        {"name": USER_SETTING, "value": str(int(user_id))},
    )


def act_as_system(session: Session | Connection) -> None:
    """Back to the connecting (owner) role, with no user: for work that spans users."""
    session.execute(text("set local role none"))
    session.execute(text("select set_config(:name, '', true)"), {"name": USER_SETTING})


def ensure_app_role(conn: Connection) -> None:
    """Create ``secretary_app`` (no login, no BYPASSRLS) once per cluster and let the
    connecting role switch to it. Safe to run concurrently from several databases."""
    conn.execute(text(_ENSURE_ROLE_SQL))


def _existing(conn: Connection, tables: tuple[str, ...]) -> list[str]:
    rows = conn.execute(
        text(
            "select tablename from pg_tables where schemaname = current_schema() "
            "and tablename = any(:names)"
        ),
        {"names": list(tables)},
    )
    return sorted(r[0] for r in rows)


def uncovered_tables(conn: Connection, tables: tuple[str, ...] = TENANT_TABLES) -> list[str]:
    """Listed tables (and ``users``) that exist but lack RLS or the ``tenant_isolation`` policy."""
    rows = conn.execute(
        text(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = current_schema() and c.relkind = 'r' and c.relname = any(:names) "
            "and (not c.relrowsecurity or not exists (select 1 from pg_policies p "
            "where p.schemaname = n.nspname and p.tablename = c.relname and p.policyname = :pol))"
        ),
        {"names": [*tables, USERS_TABLE], "pol": POLICY},
    )
    return sorted(r[0] for r in rows)


def apply_policies(
    conn: Connection, tables: tuple[str, ...] = TENANT_TABLES, *, force: bool = False
) -> list[str]:
    """Enable RLS with the ``tenant_isolation`` policy and grant the app role on every
    listed table that exists. Without ``force`` it does nothing (no DDL, no locks) when every
    table is covered already, so it is cheap on each start. Returns the tables (re)covered."""
    if not force and not uncovered_tables(conn, tables):
        return []
    ensure_app_role(conn)
    conn.execute(text(f"grant usage on schema public to {APP_ROLE}"))
    # Tables later migrations create are usable by the app role without a grant of their own.
    conn.execute(
        text(
            "alter default privileges in schema public grant select, insert, update, delete "
            f"on tables to {APP_ROLE}"
        )
    )
    conn.execute(
        text(
            f"alter default privileges in schema public grant usage, select on sequences to {APP_ROLE}"
        )
    )
    conn.execute(text(f"grant usage, select on all sequences in schema public to {APP_ROLE}"))
    covered = _existing(conn, tables)
    for table in covered:
        conn.execute(text(f'grant select, insert, update, delete on "{table}" to {APP_ROLE}'))
        conn.execute(text(f'alter table "{table}" enable row level security'))
        conn.execute(text(f'drop policy if exists {POLICY} on "{table}"'))
        conn.execute(
            text(
                f'create policy {POLICY} on "{table}" '
                f"using (user_id = {_CURRENT_USER}) with check (user_id = {_CURRENT_USER})"
            )
        )
    conn.execute(text(f'grant select, update on "{USERS_TABLE}" to {APP_ROLE}'))
    conn.execute(text(f'alter table "{USERS_TABLE}" enable row level security'))
    conn.execute(text(f'drop policy if exists {POLICY} on "{USERS_TABLE}"'))
    conn.execute(
        text(
            f'create policy {POLICY} on "{USERS_TABLE}" '
            f"using (id = {_CURRENT_USER}) with check (id = {_CURRENT_USER})"
        )
    )
    return covered


def drop_policies(conn: Connection, tables: tuple[str, ...] = TENANT_TABLES) -> None:
    for table in [*_existing(conn, tables), USERS_TABLE]:
        conn.execute(text(f'drop policy if exists {POLICY} on "{table}"'))
        conn.execute(text(f'alter table "{table}" disable row level security'))
