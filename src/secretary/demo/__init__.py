"""`secretary demo`: the whole product on embedded defaults against the shipped emulator.

Owns only orchestration: it starts the Google Workspace emulator with the demo workspace,
connects an account through the real OAuth flow, syncs, lets triage and drafting run, and
shows what happened. It must not contain product logic of its own.
"""
