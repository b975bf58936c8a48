"""PromQL label selectors the dashboards share, each with the variables it filters on."""

# The job variable; then with the instance, the route (RED) and the GPU variables.
JOB = 'job=~"$job"'
JOB_INSTANCE = 'job=~"$job", instance=~"$instance"'
# The host picker (the `host` label: stack-host, or the name given to `obsstack hosts add`) first.
HOST_INSTANCE = 'job=~"$job", host=~"$host", instance=~"$instance"'
JOB_ROUTE = 'job=~"$job", route=~"$route"'
GPU_SERIES = 'job=~"$job", host=~"$host", gpu=~"$gpu"'
# Usage ratios: orange from 80 %, red from 90 %.
USAGE_THRESHOLDS = [(0.8, "orange"), (0.9, "red")]
# cAdvisor's containers of Compose services, and the label naming the service.
COMPOSE_CONTAINERS = 'job=~"$job", host=~"$host", container_label_com_docker_compose_service!=""'
COMPOSE_SERVICE = "container_label_com_docker_compose_service"
# postgres_exporter's databases, without the templates.
PG_DATABASES = 'job=~"$job", instance=~"$instance", datname=~"$db", datname!~"template.*"'
