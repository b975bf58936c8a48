#!/usr/bin/env bash
# One-shot Elasticsearch setup (the elasticsearch-setup service): roles from roles/*.json, then the
# users every component logs in with, passwords from the environment (.env). Re-runnable: it
# updates what exists. Modelled on docker-elk's setup/entrypoint.sh; bash and curl only (UBI minimal).
set -euo pipefail

es="${ELASTICSEARCH_URL:?}"
roles_dir="${0%/*}/roles"

# user -> "roles password-variable"; roles "-" marks a built-in user (its password only is set).
declare -A users=(
  [kibana_system]="- KIBANA_SYSTEM_PASSWORD"
  [logstash_internal]="logstash_writer LOGSTASH_INTERNAL_PASSWORD"
  [jaeger_internal]="jaeger_writer JAEGER_ES_PASSWORD"
  [grafana_reader]="grafana_reader GRAFANA_ES_PASSWORD"
  [monitoring_internal]="remote_monitoring_collector MONITORING_ES_PASSWORD"
)

log() { printf '[elasticsearch-setup] %s\n' "$*" >&2; }

# call METHOD PATH [BODY]: prints the HTTP status; the body goes to /tmp/response.
call() {
  local args=(-s -o /tmp/response -w '%{http_code}' -m 15 -u "elastic:${ELASTIC_PASSWORD:?}"
              -X "$1" "${es}$2" -H 'Content-Type: application/json')
  [[ $# -ge 3 ]] && args+=(--data-binary "$3")
  curl "${args[@]}" || echo 000
}

expect_200() {
  local status
  status="$(call "$@")"
  if [[ "$status" != 200 ]]; then
    local body
    body="$(</tmp/response)"
    log "$1 $2 failed with HTTP $status: ${body:0:500}"
    exit 1
  fi
}

log "waiting for Elasticsearch at ${es}"
for ((attempt = 0; attempt < 60; attempt++)); do
  [[ "$(call GET /_security/_authenticate)" == 200 ]] && break
  sleep 5
done
expect_200 GET /_security/_authenticate

for file in "$roles_dir"/*.json; do
  role="${file##*/}"
  role="${role%.json}"
  log "role ${role}"
  expect_200 PUT "/_security/role/${role}" "$(<"$file")"
done

for user in "${!users[@]}"; do
  read -r roles variable <<<"${users[$user]}"
  password="${!variable:?${variable} is empty: run scripts/setup.py}"
  password_json="${password//\\/\\\\}"
  password_json="${password_json//\"/\\\"}"
  if [[ "$roles" == - ]]; then
    log "built-in user ${user}: setting password"
    expect_200 POST "/_security/user/${user}/_password" "{\"password\":\"${password_json}\"}"
  else
    log "user ${user} (${roles})"
    roles_json="\"${roles//,/\",\"}\""
    expect_200 PUT "/_security/user/${user}" "{\"password\":\"${password_json}\",\"roles\":[${roles_json}]}"
  fi
done

# One node holds no replica: make new log and trace indices replica-free so health can be green.
expect_200 PUT /_component_template/logs@custom '{"template":{"settings":{"number_of_replicas":0}}}'
log "done"
