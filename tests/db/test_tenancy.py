"""Row-level security holds on its own (ADR 0012): every tenant table has the policy, the
application role is not the owner, and with no user set it sees no rows at all."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from secretary.db import tenancy
from secretary.db.models import ApiToken, Rule, User


def test_every_table_with_user_id_is_a_tenant_table_with_its_policy(session: Session) -> None:
    with_user_id = set(
        session.execute(
            text(
                "select table_name from information_schema.columns "
                "where table_schema = current_schema() and column_name = 'user_id'"
            )
        ).scalars()
    )
    assert with_user_id <= set(tenancy.TENANT_TABLES), with_user_id - set(tenancy.TENANT_TABLES)
    assert len(set(tenancy.TENANT_TABLES)) == len(tenancy.TENANT_TABLES), "listed twice"
    assert tenancy.uncovered_tables(session.connection()) == []
    owners = dict(
        session.execute(
            text("select tablename, tableowner from pg_tables where tablename = any(:t)"),
            {"t": [*tenancy.TENANT_TABLES, "users"]},
        ).all()
    )
    assert tenancy.APP_ROLE not in owners.values()
    bypass = session.execute(
        text("select rolbypassrls or rolsuper from pg_roles where rolname = :r"),
        {"r": tenancy.APP_ROLE},
    ).scalar_one()
    assert bypass is False


def _two_users_with_rules(session: Session) -> tuple[int, int]:
    ids = []
    for n in range(2):
        user = User(email=f"rls-{n}-{uuid.uuid4().hex[:8]}@example.com")
        session.add(user)
        session.flush()
        session.add(Rule(user_id=user.id, name=f"rule {n}", conditions={}, actions={}))
        session.add(
            ApiToken(
                user_id=user.id,
                name="t",
                prefix="x",
                token_hash=uuid.uuid4().hex,
                scopes=["read"],
            )
        )
        ids.append(user.id)
    session.flush()
    return ids[0], ids[1]


def test_the_app_role_with_no_user_set_sees_no_rows(session: Session) -> None:
    _two_users_with_rules(session)
    tenancy.act_as(session, 1)
    session.execute(text("select set_config('secretary.user_id', '', true)"))
    assert session.execute(text("select current_user")).scalar_one() == tenancy.APP_ROLE
    for table in [*tenancy.TENANT_TABLES, "users"]:
        count = session.execute(text(f'select count(*) from "{table}"')).scalar_one()
        assert count == 0, table
    tenancy.act_as_system(session)
    assert session.execute(text("select count(*) from rules")).scalar_one() >= 2


def test_the_app_role_sees_and_writes_only_the_set_users_rows(session: Session) -> None:
    alice, bob = _two_users_with_rules(session)
    tenancy.act_as(session, alice)
    owners = set(session.execute(text("select user_id from rules")).scalars())
    assert owners == {alice}
    assert set(session.execute(text("select id from users")).scalars()) == {alice}
    # A raw update aimed at Bob's rules touches nothing; inserting a row for Bob is refused.
    updated = session.execute(
        text("update rules set name = 'pwned' where user_id = :b"), {"b": bob}
    ).rowcount
    assert updated == 0
    nested = session.begin_nested()
    with pytest.raises(DBAPIError, match="row-level security"):
        session.execute(
            text(
                "insert into rules (user_id, name, position, enabled, stop, conditions, actions)"
                " values (:b, 'x', 0, true, false, '{}', '{}')"
            ),
            {"b": bob},
        )
    nested.rollback()
    tenancy.act_as_system(session)
    names = set(
        session.execute(text("select name from rules where user_id = :b"), {"b": bob}).scalars()
    )
    assert names == {"rule 1"}


def test_the_app_role_may_use_every_table(session: Session) -> None:
    """Requests run as the app role: a table it has no grant on would be a 500 in a route."""
    missing = (
        session.execute(
            text(
                "select tablename from pg_tables where schemaname = current_schema() "
                "and tablename <> 'alembic_version' "
                "and not has_table_privilege(:role, format('%I.%I', schemaname, tablename), "
                "'select,insert,update,delete')"
            ),
            {"role": tenancy.APP_ROLE},
        )
        .scalars()
        .all()
    )
    assert missing == []
