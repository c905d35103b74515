"""Mirroring Gmail into PostgreSQL: initial backfill, incremental history, push and poll.

Owns the ``sync_states`` cursor/progress and writes ``messages``, ``threads``, ``labels`` and
``attachments``. Talks to Google only through ``secretary.google.gmail``; never triages,
drafts or acts on mail: listeners registered in ``service`` get new message ids instead.
"""
