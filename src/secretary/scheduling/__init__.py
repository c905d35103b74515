"""Scheduling: the owner's availability, free slots, meeting requests and bookings.

``slots.py`` is the pure availability engine (values in, slots out, no I/O); the services
around it read busy time from the synced Calendar store and the preferences table, and hand
bookings and invitation answers to the proposed-action queue. It never writes to Calendar
or Gmail without an approved proposal.
"""
