"""Placeholder; the owning module fills this in."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class CalendarStore:
    email: str
