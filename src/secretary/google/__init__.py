"""Talking to Google through the official clients: auth, Gmail, Calendar, Drive, quota.

Pointed at real Google or at the emulator by configuration only. Nothing here touches the DB.
"""
