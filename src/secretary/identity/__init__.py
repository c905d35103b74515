"""Who is calling: users (by Google's OpenID ``sub``), browser sessions, personal API tokens
and the audit log of state changes (ADR 0013). Pure storage and checks; the HTTP edge
(``web/auth.py``) reads cookies and headers and calls in here. Never touches Gmail data."""
