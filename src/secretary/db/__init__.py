"""PostgreSQL (with pgvector) access: engine, sessions and the ORM models.

The database is the source of truth. Services ``flush()``; the edge (request, task, CLI
command) owns the transaction and commits once.
"""
