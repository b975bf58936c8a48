"""The stack's published endpoints: what each is and how one logs in. Read by `obsstack urls` (to
print them) and `obsstack smoke` (to check them); the ports come from the rendered compose project."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UI:
    service: str
    port: int  # the container port compose publishes
    label: str
    component: str | None  # the smoke test's name for it
    user_variable: str | None = None  # .env variable holding the user name (or a fixed user below)
    user: str | None = None
    password_variable: str | None = None
    note: str = ""

    def login(self, env: dict[str, str]) -> tuple[str, str] | None:
        if self.password_variable is None:
            return None
        user = env.get(self.user_variable, "") if self.user_variable else ""
        return (user or self.user or "", env.get(self.password_variable, ""))

    def describe_login(self) -> str:
        if self.password_variable is None:
            return self.note
        user = f"{self.user_variable} ({self.user})" if self.user_variable else self.user
        return f"user {user}, password {self.password_variable}"


UIS = (
    UI("grafana", 3000, "Grafana", "grafana", "GRAFANA_ADMIN_USER", "admin", "GRAFANA_ADMIN_PASSWORD"),
    UI("prometheus", 9090, "Prometheus", "prometheus", user="prometheus", password_variable="PROMETHEUS_WEB_PASSWORD"),
    UI("alertmanager", 9093, "Alertmanager", "alertmanager", user="alertmanager",
       password_variable="ALERTMANAGER_WEB_PASSWORD"),
    UI("kibana", 5601, "Kibana", "kibana", user="elastic", password_variable="ELASTIC_PASSWORD"),
    UI("elasticsearch", 9200, "Elasticsearch API", "elasticsearch", user="elastic", password_variable="ELASTIC_PASSWORD"),
    UI("jaeger", 16686, "Jaeger UI", "jaeger", note="no login here (127.0.0.1); through the tls profile: user jaeger"),
    UI("jaeger", 4317, "OTLP gRPC (traces in)", None, note="no login here (127.0.0.1); through the tls profile: user otlp"),
    UI("jaeger", 4318, "OTLP HTTP (traces in)", "otlp", note="no login here (127.0.0.1); through the tls profile: user otlp"),
)

# The tls profile's HTTPS ports: the .env setting of each (Caddy listens on the published number).
TLS_PORTS = {
    "TLS_HTTP_PORT": ("HTTP -> HTTPS", "redirects to Grafana"),
    "TLS_HTTPS_PORT": ("Grafana (HTTPS)", "user GRAFANA_ADMIN_USER (admin), password GRAFANA_ADMIN_PASSWORD"),
    "PROMETHEUS_TLS_PORT": ("Prometheus (HTTPS)", "user prometheus, password PROMETHEUS_WEB_PASSWORD"),
    "ALERTMANAGER_TLS_PORT": ("Alertmanager (HTTPS)", "user alertmanager, password ALERTMANAGER_WEB_PASSWORD"),
    "KIBANA_TLS_PORT": ("Kibana (HTTPS)", "user elastic, password ELASTIC_PASSWORD"),
    "JAEGER_TLS_PORT": ("Jaeger UI (HTTPS)", "user jaeger, password JAEGER_UI_PASSWORD"),
    "OTLP_HTTP_TLS_PORT": ("OTLP HTTP (HTTPS)", "user otlp, password OTLP_PASSWORD"),
    "OTLP_GRPC_TLS_PORT": ("OTLP gRPC (TLS)", "user otlp, password OTLP_PASSWORD"),
}
BY_PORT = {(ui.service, ui.port): ui for ui in UIS}
