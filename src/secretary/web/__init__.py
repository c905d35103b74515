"""The HTTP edge: REST API (``api/``), UI pages (``ui/``), webhooks. Routers only call services."""
