"""An HTTP emulator of Gmail v1, Calendar v3, Drive v3, Google OAuth 2.0 and Pub/Sub push.

Shapes follow the discovery documents shipped with google-api-python-client. State is in
memory (seedable from mbox/maildir and the bundled demo workspace).
"""
