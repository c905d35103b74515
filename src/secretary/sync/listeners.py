"""The "messages stored" hand-off: how the sync tells the pipeline about new mail.

The sync never imports triage. Whoever composes the process (``secretary.bootstrap``)
passes a ``MessagesStoredListener`` (the pipeline's entry, ``secretary.pipeline``) to the
sync as ``on_stored``; it runs inside the transaction that stores the messages, so what it
writes (task records) commits or rolls back with them.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

# ``listener(session, account_id, message_ids)``: ``messages.id`` keys whose body was
# stored for the first time.
MessagesStoredListener = Callable[[Session, int, list[int]], None]

# Deprecated: listeners appended here by an import side effect. ``secretary.pipeline``
# still calls them once per store so that code written against the old hook keeps working;
# add a stage to ``pipeline.STAGES`` instead.
_listeners: list[MessagesStoredListener] = []


def on_messages_stored(listener: MessagesStoredListener) -> MessagesStoredListener:
    """Deprecated registration (see ``_listeners``); prefer a row in ``pipeline.STAGES``."""
    if listener not in _listeners:
        _listeners.append(listener)
    return listener


def remove_listener(listener: MessagesStoredListener) -> None:
    if listener in _listeners:
        _listeners.remove(listener)


def legacy_listeners() -> tuple[MessagesStoredListener, ...]:
    return tuple(_listeners)


def notify(
    session: Session,
    account_id: int,
    message_ids: list[int],
    listener: MessagesStoredListener | None,
) -> None:
    if message_ids and listener is not None:
        listener(session, account_id, message_ids)
