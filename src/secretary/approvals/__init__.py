"""Approvals: the generic queue of proposed actions (ADR 0015).

Owns the ``proposed_actions`` table, proposing (idempotent per dedupe key), listing,
approving and rejecting. Applying an approved action is delegated to the applier the
owning domain registered for its ``kind`` (scheduling: ``create_event``,
``respond_to_invite``); this package never calls Google itself.
"""
