"""The shipped LLM-provider emulator (OpenAI, Anthropic and Gemini wire protocols).

The Google Workspace emulator is its own package, ``workspace_emulator``
(``packages/workspace-emulator``). Emulators import nothing from the domains.
"""
