"""The native stack's components, one module each. Importing them registers them, in start order:
what a component needs runs before it (the databases before their exporters, Alertmanager before
Prometheus)."""
from . import (  # noqa: F401
               alertmanager,
               blackbox_exporter,
               demo_app,
               gpu_exporter,
               node_exporter,
               postgres,
               postgres_exporter,
               prometheus,
               redis,
               redis_exporter,
               webhook_sink,
)
