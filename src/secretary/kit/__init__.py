"""Domain-free helpers: logging, clock, crypto, retry. Nothing here knows about mail."""
