"""The offline intelligence tier: embeddings, classifier, extractors and an LLM-free drafter.

Owns the shipped model artifacts under ``model/`` and everything that runs without a network.
It must not touch the database or any provider SDK; callers pass ``EmailInput`` values in and
store what comes out (including each message's embedding, which search reuses).
"""

from secretary.llm.local.tier import LocalTier

__all__ = ["LocalTier"]
