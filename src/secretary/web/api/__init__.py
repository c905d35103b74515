"""REST API routers, one module per domain; each registers itself with ``register_routes``."""
