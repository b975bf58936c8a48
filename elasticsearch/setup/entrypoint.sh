#!/usr/bin/env bash
# Elasticsearch (and Kibana) setup for the stack; bash and curl only (the Elastic images have both).
#
#   entrypoint.sh setup      one-shot (service elasticsearch-setup): retention policies, the logs index
#                            template, roles, then every user's password from .env, the superuser
#                            `elastic` included. Re-runnable: it updates what exists, so changing a
#                            password or a retention in .env and re-running `make up` applies it.
#   entrypoint.sh maintain   long-running (service elasticsearch-maintenance): every MAINTAIN_INTERVAL
#                            seconds, attaches the traces retention policy to Jaeger's new daily
#                            indices and keeps Kibana's logs data view in place.
#
# It logs in as `stack_setup`, a file-realm superuser whose bcrypt hash Compose mounts into
# Elasticsearch (config/users): it exists before any native user does and never depends on them,
# so a changed `elastic` password cannot lock the setup out.
set -euo pipefail

# Passwords come from files Compose mounts (VARIABLE_FILES_DIR/<VARIABLE>, not the container's
# environment, where `docker inspect` shows them); a variable already set wins (the tests set them).
if [[ -n "${VARIABLE_FILES_DIR:-}" ]]; then
  for secret in "$VARIABLE_FILES_DIR"/*; do
    [[ -f "$secret" ]] || continue
    name="${secret##*/}"
    [[ "$name" =~ ^[A-Z][A-Z0-9_]*$ ]] || continue
    if [[ -z "${!name:-}" ]]; then
      printf -v "$name" '%s' "$(<"$secret")"
    fi
  done
fi

es="${ELASTICSEARCH_URL:?}"
: "${ELASTIC_SETUP_PASSWORD:?the stack_setup password (ELASTIC_SETUP_PASSWORD in .env): run scripts/setup.py}"
here="${0%/*}"
setup_user=stack_setup

# user -> "roles password-variable"; roles "-" marks a built-in user (its password only is set).
declare -A users=(
  [elastic]="- ELASTIC_PASSWORD"
  [kibana_system]="- KIBANA_SYSTEM_PASSWORD"
  [logstash_internal]="logstash_writer LOGSTASH_INTERNAL_PASSWORD"
  [jaeger_internal]="jaeger_writer JAEGER_ES_PASSWORD"
  [grafana_reader]="grafana_reader GRAFANA_ES_PASSWORD"
  [monitoring_internal]="remote_monitoring_collector,failure_store_reader MONITORING_ES_PASSWORD"
)
# Jaeger's daily indices (jaeger/config.yaml keeps the default periodic rotation).
jaeger_indices="jaeger-span-*,jaeger-service-*,jaeger-dependencies-*"
traces_policy=jaeger-traces

log() { printf '[elasticsearch-%s] %s\n' "${mode:-setup}" "$*" >&2; }

# call METHOD URL [BODY]: prints the HTTP status; the body goes to $response.
response="$(mktemp)"
trap 'rm -f "$response"' EXIT
call() {
  local args=(-s -o "$response" -w '%{http_code}' -m 15 -u "${setup_user}:${ELASTIC_SETUP_PASSWORD:?}"
              -X "$1" "$2" -H 'Content-Type: application/json' -H 'kbn-xsrf: observability-stack')
  [[ $# -ge 3 ]] && args+=(--data-binary "$3")
  curl "${args[@]}" || echo 000
}

# expect "STATUSES" METHOD URL [BODY]: fails naming the call unless the status is one of STATUSES.
expect() {
  local allowed="$1" status
  shift
  status="$(call "$@")"
  if [[ " ${allowed} " != *" ${status} "* ]]; then
    log "$1 ${2#"$es"} failed with HTTP ${status}: $(head -c 500 "$response")"
    return 1
  fi
}

# render FILE: the file with @VARIABLE@ placeholders replaced from the environment; an unset one fails.
render() {
  local text name
  text="$(<"$1")"
  for name in $(grep -o '@[A-Z_][A-Z0-9_]*@' "$1" | sort -u | tr -d @); do
    [[ -n "${!name:-}" ]] || { log "$1 needs ${name}, which is not set"; return 1; }
    text="${text//@${name}@/${!name}}"
  done
  printf '%s' "$text"
}

json_string() {
  local value="${1//\\/\\\\}"
  printf '"%s"' "${value//\"/\\\"}"
}

wait_for_elasticsearch() {
  log "waiting for Elasticsearch at ${es}"
  for ((attempt = 0; attempt < 60; attempt++)); do
    [[ "$(call GET "${es}/_security/_authenticate")" == 200 ]] && return 0
    sleep 5
  done
  expect 200 GET "${es}/_security/_authenticate"
}

# Jaeger creates a new index a day (with no replica: jaeger/config.yaml); ILM deletes each TRACES_RETENTION
# after its creation, and a replica follows once a second node exists (es-cluster overlay).
attach_traces_policy() {
  expect "200" PUT "${es}/${jaeger_indices}/_settings?allow_no_indices=true&expand_wildcards=open" \
    "{\"index\":{\"lifecycle\":{\"name\":\"${traces_policy}\"},\"auto_expand_replicas\":\"0-1\"}}"
}

setup() {
  wait_for_elasticsearch

  log "retention: logs ${LOGS_RETENTION:?}, traces ${TRACES_RETENTION:?}"
  expect 200 PUT "${es}/_ilm/policy/${traces_policy}" "$(render "${here}/ilm/${traces_policy}.json")"
  for file in "${here}"/index-templates/*.json; do
    local name="${file##*/}"
    log "index template ${name%.json}"
    expect 200 PUT "${es}/_index_template/${name%.json}" "$(render "$file")"
  done
  # A template only shapes data streams created after it: bring the existing ones in line too.
  expect "200 404" PUT "${es}/_data_stream/logs-docker-*/_lifecycle" "{\"data_retention\":\"${LOGS_RETENTION}\"}"
  attach_traces_policy
  # Other logs-*-* streams (yours) alike: a replica once a second node exists (es-cluster overlay),
  # none on one node, which cannot hold one (so one node stays green).
  expect 200 PUT "${es}/_component_template/logs@custom" '{"template":{"settings":{"auto_expand_replicas":"0-1"}}}'

  for file in "${here}"/roles/*.json; do
    local role="${file##*/}"
    log "role ${role%.json}"
    expect 200 PUT "${es}/_security/role/${role%.json}" "$(<"$file")"
  done

  for user in "${!users[@]}"; do
    local roles variable password
    read -r roles variable <<<"${users[$user]}"
    password="${!variable:?${variable} is empty: run scripts/setup.py}"
    if [[ "$roles" == - ]]; then
      log "built-in user ${user}: setting password"
      expect 200 POST "${es}/_security/user/${user}/_password" "{\"password\":$(json_string "$password")}"
    else
      log "user ${user} (${roles})"
      expect 200 PUT "${es}/_security/user/${user}" \
        "{\"password\":$(json_string "$password"),\"roles\":[\"${roles//,/\",\"}\"]}"
    fi
  done
  log "done"
}

# The logs data view, with trace.id linking to the trace in Jaeger; override replaces it in place.
ensure_data_view() {
  local kibana="${KIBANA_URL:?}" status
  status="$(call GET "${kibana}/api/status")"
  if [[ "$status" != 200 ]]; then
    log "Kibana at ${kibana} not available (HTTP ${status}); data view next round"
    return 0
  fi
  expect 200 POST "${kibana}/api/data_views/data_view" "$(render "${KIBANA_SETUP_DIR:-/kibana-setup}/data-view-logs.json")"
  expect 200 POST "${kibana}/api/data_views/default" '{"data_view_id":"logs-docker","force":true}'
}

maintain() {
  wait_for_elasticsearch
  local interval="${MAINTAIN_INTERVAL:-600}"
  while true; do
    if attach_traces_policy && ensure_data_view; then
      # The healthcheck reads this file's age: older than three rounds means the loop is stuck.
      date +%s >/tmp/last-maintenance
      log "round done; next in ${interval}s"
    fi
    [[ "${MAINTAIN_ONCE:-false}" == true ]] && return 0
    sleep "$interval"
  done
}

mode="${1:-setup}"
case "$mode" in
  setup) setup ;;
  maintain) maintain ;;
  *) log "unknown mode ${mode}: use setup or maintain"; exit 2 ;;
esac
