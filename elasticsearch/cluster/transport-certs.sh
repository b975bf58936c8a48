#!/usr/bin/env bash
# One-shot (service elasticsearch-certs, docker-compose.es-cluster.yml): the transport TLS keystore
# the three Elasticsearch nodes share, made once with the image's own elasticsearch-certutil.
#
#   1. a CA used for this cluster's transport layer only (Elastic's advice: a dedicated CA, so that
#      node membership is tightly controlled), in a temporary folder;
#   2. one node certificate signed by it, written as PKCS#12 (certificate, key and CA) to
#      config/certs/transport.p12 on the elasticsearch-certs volume;
#   3. the CA and its key are deleted with the temporary folder: nothing can sign a new node
#      certificate afterwards. To renew or rotate: stop the stack, remove the volume
#      (`docker volume rm <project>_elasticsearch-certs`), start it again; all nodes restart together.
#
# Re-runnable: an existing keystore is kept. Runs as root (the new volume is root's) with every
# capability dropped; the file is root:root 0640 and the nodes (uid 1000, gid 0) read it as group 0.
set -euo pipefail

certs=/usr/share/elasticsearch/config/certs
keystore="${certs}/transport.p12"
days="${TRANSPORT_CERT_DAYS:-3650}"

log() { printf '[elasticsearch-certs] %s\n' "$*" >&2; }

if [[ -s "$keystore" ]]; then
  log "${keystore} exists; kept (remove the volume to issue a new one)"
  exit 0
fi

umask 027
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd /usr/share/elasticsearch

# Empty passwords: `--pass ""` is how certutil's reference gives a blank PKCS#12 password without a
# prompt; with none, Elasticsearch needs no keystore secure_password setting.
bin/elasticsearch-certutil ca --silent --days "$days" --out "${work}/ca.p12" --pass ""
bin/elasticsearch-certutil cert --silent --days "$days" --ca "${work}/ca.p12" --ca-pass "" \
  --out "${work}/transport.p12" --pass ""

# Written beside the target and renamed: a node never reads a half-written keystore.
cp "${work}/transport.p12" "${keystore}.partial"
chmod 0640 "${keystore}.partial"
mv "${keystore}.partial" "$keystore"
log "wrote ${keystore} (valid ${days} days; the CA was not kept)"
