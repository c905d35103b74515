"""Shipped emulators of the outside world (Google Workspace, LLM providers).

They are product parts: the demo and the tests run against them over real HTTP, driven by
the official client libraries. They import nothing from the domains except shared tables.
"""
