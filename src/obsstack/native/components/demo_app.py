"""The demo app with its load generator, its job queue in the native Redis and results in PostgreSQL.
Traces are not exported (no Jaeger natively); their ids still reach the logs and exemplars."""
from __future__ import annotations

from ..process import Component
from ..registry import Context, component
from ..server import write_secret
from . import postgres, redis


@component("demo_app", compose_addresses=("demo-app:8000",))
def build(ctx: Context) -> Component:
    url = ctx.url("demo_app")
    # Credentials through *_FILE (as in compose), never on the command line, where `ps` shows them.
    secrets = {"DEMO_REDIS_URL_FILE": write_secret(ctx, "demo-redis-url", redis.url(ctx)),
               "DEMO_POSTGRES_DSN_FILE": write_secret(ctx, "demo-postgres-dsn", postgres.dsn(ctx))}
    return Component("demo_app", [ctx.python, "-m", "demo_app", "--listen", f"127.0.0.1:{ctx.ports['demo_app']}",
                                  "--load-rps", "10"],
                     url, {"http": f"{url}/healthz"}, env={"OTEL_EXPORTER_OTLP_ENDPOINT": "", **secrets})
