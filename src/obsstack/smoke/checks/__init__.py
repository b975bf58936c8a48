"""One module per component's checks; CHECKS is every (component, check, function) in report order."""
from . import (
          alertmanager,
          demo_app,
          elasticsearch,
          gpu,
          grafana,
          jaeger,
          kibana,
          prometheus,
)

CHECKS = [*prometheus.CHECKS, *alertmanager.CHECKS, *grafana.CHECKS, *elasticsearch.CHECKS, *kibana.CHECKS,
          *jaeger.CHECKS, *gpu.CHECKS, *demo_app.CHECKS]
