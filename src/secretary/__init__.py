"""Secretary: a self-hostable AI secretary for Google Workspace.

Sliced by domain (see ``docs/decisions``); the edges are ``web/`` and ``cli/``.
"""

__version__ = "0.1.0"
