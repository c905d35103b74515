"""Triage: every new message gets a category, flags, a priority and a reason.

Owns user rules (pure matching in ``rules.py``), the pipeline stages (``steps/``, pure),
triage results and the ``triage.*`` tasks. It calls the intelligence tier through its
Protocol and Gmail through ``drafting.gmail``; it never sends mail or acts on content.
"""
