"""The MCP edge: Secretary's search, read, ask and proposal tools for MCP clients.

A thin edge like ``web/`` and ``cli/``: tools call the same services as the API. It must
not execute an action: every write is a proposal waiting for approval.
"""
