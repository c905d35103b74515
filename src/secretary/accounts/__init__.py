"""Connected Google accounts: the OAuth connect/re-auth flows, encrypted tokens, refresh.

Owns the ``users`` ↔ ``google_accounts`` link, token storage (MultiFernet ciphertext only),
the credentials provider every Google-calling domain uses (``service.get_credentials``),
and the ``needs_reauth`` state. It never reads mail, and never logs addresses or tokens.
"""
