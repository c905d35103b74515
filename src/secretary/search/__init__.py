"""Search: a local hybrid index (tantivy BM25 + pgvector HNSW) over mail, events and files.

Owns the derived index (``search_items``/``search_vectors`` in Postgres, one tantivy index
per user under ``SECRETARY_HOME/search``), query parsing and rank fusion. It reads the
synced store and never writes to it; everything here can be rebuilt with
``secretary search reindex``. ADR 0011 records the engine choice.
"""
