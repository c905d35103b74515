"""Drafting: suggested replies stored locally and mirrored as thread-aware Gmail drafts.

Owns the ``drafts`` table, the reply addressing rules (``addressing.py``, pure), the Gmail
draft/label port and the ``drafting.*`` tasks. It never sends mail: a human approves in
Gmail or through the API, and a human edit is never overwritten.
"""
