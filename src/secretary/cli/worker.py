"""`secretary worker`: run background tasks (Celery worker, or the in-process runtime)."""

from __future__ import annotations

import typer

from secretary.cli.context import get_ctx
from secretary.config import Settings


def register(root: typer.Typer) -> None:
    root.command("worker")(worker)


def worker(
    runtime: str = typer.Option(
        None, "--runtime", help="celery or inline (default: Settings.worker.runtime)."
    ),
    concurrency: int = typer.Option(
        None,
        "--concurrency",
        "-c",
        help="Slots: tasks run at once (default: Settings.worker.concurrency; twice that in a "
        "Celery threads pool).",
    ),
    queues: str = typer.Option(
        "priority,default,sync,batch", "--queues", "-Q", help="Celery queues to consume."
    ),
    beat: bool = typer.Option(
        True, "--beat/--no-beat", help="Also run the periodic sweeper (Celery: embedded beat)."
    ),
    broker: str = typer.Option(None, "--broker", help="Broker URL (overrides the setting)."),
    tier: str = typer.Option(
        None, "--tier", help="Intelligence tier as module:attr (default: the configured chain)."
    ),
    pool: str = typer.Option(
        "threads",
        "--pool",
        help="Celery pool: threads (one process and one model; slots overlap their database "
        "and Google waits, as in-process) or prefork (a process and a model per slot).",
    ),
    loglevel: str = typer.Option("INFO", "--loglevel", help="Celery log level."),
    include: list[str] = typer.Option(
        [], "--include", "-I", help="Extra modules declaring tasks (plugins)."
    ),
) -> None:
    """Start a worker. Celery: acks late, requeue on worker loss, prefetch 1."""
    ctx = get_ctx()
    settings = ctx.settings
    if broker:
        settings = settings.model_copy(
            update={"worker": settings.worker.model_copy(update={"broker_url": broker})}
        )
    ctx.migrated_engine()
    chosen = runtime or settings.worker.runtime
    from secretary.bootstrap import Secretary, compose
    from secretary.worker import registry

    registry.load_all(include)

    if chosen == "inline":
        import asyncio

        from secretary.worker.boot import run_inline_forever

        root = compose(settings, engine=ctx.engine, tier_spec=tier)
        asyncio.run(run_inline_forever(root, concurrency=concurrency))
        return
    if chosen != "celery":
        raise typer.BadParameter("--runtime must be celery or inline")
    if pool not in ("prefork", "threads"):
        raise typer.BadParameter("--pool must be prefork or threads")
    from secretary.worker.backends.celery import (
        THREADS_POOL,
        connection_pool_size,
        create_celery_app,
        default_slots,
        warm_up_in_background,
    )

    # Not Celery's own default of one slot per CPU: 2 on a small host, each held for a
    # message's whole chain while it waits on Postgres and Google (issue #14).
    slots = concurrency or default_slots(pool, settings)
    pool_size = connection_pool_size(pool, slots)

    def compose_process(s: Settings) -> Secretary:
        return compose(s, tier_spec=tier, pool_size=pool_size)

    app = create_celery_app(settings, composer=compose_process)
    argv = [
        "worker",
        f"--loglevel={loglevel}",
        "--queues=" + ",".join(settings.worker.queue_prefix + q for q in queues.split(",")),
        "--without-gossip",
        "--without-mingle",
        f"--concurrency={slots}",
    ]
    if pool == "threads":
        # Celery's own threads pool stalls between tasks (see WakingThreadPool). Celery
        # takes a pool class only from its configuration, used when --pool is left out.
        app.conf.worker_pool = THREADS_POOL
        warm_up_in_background(app)  # this process runs the tasks: no pool-process signal
    else:
        argv.append(f"--pool={pool}")
    if beat:
        argv += ["--beat", f"--schedule={settings.home_path / 'celerybeat-schedule'}"]
    app.worker_main(argv)
