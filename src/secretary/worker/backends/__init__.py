"""Runtimes that deliver dispatches to workers: ``inline`` (asyncio, in-process, default)
and ``celery`` (Redis or RabbitMQ broker). Both run ``worker.runner.execute``."""
