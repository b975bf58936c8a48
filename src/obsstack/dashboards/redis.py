"""Redis (uid redis): Redis through redis_exporter: availability, memory against maxmemory, clients, commands,
hit ratio, evictions."""
from __future__ import annotations

from typing import Any

from .builder import alert_threshold, RUNBOOKS, UP_DOWN, Panel, dashboard, variable
from .selectors import JOB_INSTANCE


def build() -> dict[str, Any]:
    panels = [
        Panel("Up", "1 when redis_exporter reaches Redis (alert RedisDown on 0).",
              [(f"redis_up{{{JOB_INSTANCE}}}", "{{instance}}")], "none", mappings=UP_DOWN, kind="stat", width=6, height=4, thresholds=[(0.0, "red"), (1.0, "green")]),
        Panel("Connected clients", "Client connections now (alert RedisTooManyClients above 90% of maxclients).",
              [(f"sum by (instance) (redis_connected_clients{{{JOB_INSTANCE}}})", "{{instance}}")], "short", kind="stat", width=6, height=4),
        Panel("Keys", "Keys over all databases.",
              [(f"sum by (instance) (redis_db_keys{{{JOB_INSTANCE}}})", "{{instance}}")], "short", kind="stat", width=6, height=4),
        Panel("Uptime", "Seconds since Redis started.",
              [(f"max by (instance) (redis_uptime_in_seconds{{{JOB_INSTANCE}}})", "{{instance}}")], "s", kind="stat", width=6, height=4),
        Panel("Memory vs maxmemory", "Memory used and the maxmemory limit (0 = no limit); alert "
              "RedisMemoryNearMaxmemory above 90% of maxmemory unless the policy evicts (allkeys-*).",
              [(f"sum by (instance) (redis_memory_used_bytes{{{JOB_INSTANCE}}})", "used {{instance}}"),
               (f"max by (instance) (redis_memory_max_bytes{{{JOB_INSTANCE}}})", "maxmemory {{instance}}")], "bytes"),
        Panel("Clients", "Connected and blocked clients against maxclients.",
              [(f"sum by (instance) (redis_connected_clients{{{JOB_INSTANCE}}})", "connected {{instance}}"),
               (f"sum by (instance) (redis_blocked_clients{{{JOB_INSTANCE}}})", "blocked {{instance}}"),
               (f"max by (instance) (redis_config_maxclients{{{JOB_INSTANCE}}})", "maxclients {{instance}}")], "short"),
        Panel("Commands", "Commands processed per second.",
              [(f"sum by (instance) (rate(redis_commands_processed_total{{{JOB_INSTANCE}}}[$__rate_interval]))", "{{instance}}")],
              "ops"),
        Panel("Hit ratio", "Keyspace hits / (hits + misses); empty while no key is read.",
              [(f"sum by (instance) (rate(redis_keyspace_hits_total{{{JOB_INSTANCE}}}[$__rate_interval])) / (sum by (instance) "
                f"(rate(redis_keyspace_hits_total{{{JOB_INSTANCE}}}[$__rate_interval]) + rate(redis_keyspace_misses_total{{{JOB_INSTANCE}}}"
                f"[$__rate_interval])) > 0)", "{{instance}}")], "percentunit"),
        Panel("Evictions and rejected connections", "Keys evicted for maxmemory and connections refused at maxclients, "
              "per second (alerts RedisKeysEvicted, RedisRejectedConnections on any).",
              [(f"sum by (instance) (rate(redis_evicted_keys_total{{{JOB_INSTANCE}}}[$__rate_interval]))", "evicted {{instance}}"),
               (f"sum by (instance) (rate(redis_rejected_connections_total{{{JOB_INSTANCE}}}[$__rate_interval]))", "rejected {{instance}}")],
              "ops", thresholds=[(0.001, "red")]),
        Panel("Network", "Bytes received and sent per second.",
              [(f"sum by (instance) (rate(redis_net_input_bytes_total{{{JOB_INSTANCE}}}[$__rate_interval]))", "in {{instance}}"),
               (f"sum by (instance) (rate(redis_net_output_bytes_total{{{JOB_INSTANCE}}}[$__rate_interval]))", "out {{instance}}")],
              "Bps"),
        Panel("Latency per command", "Average time Redis spends executing each command type (its own time, not the "
              "network's); microseconds are normal, milliseconds mean slow commands (KEYS, big ranges).",
              [(f"sum by (cmd) (rate(redis_commands_duration_seconds_total{{{JOB_INSTANCE}}}[$__rate_interval])) / "
                f"(sum by (cmd) (rate(redis_commands_total{{{JOB_INSTANCE}}}[$__rate_interval])) > 0)", "{{cmd}}")], "s"),
        Panel("Clients of maxclients", "Connected clients as a share of maxclients (alert RedisTooManyClients); new "
              "connections are refused at 100%.",
              [(f"sum by (instance) (redis_connected_clients{{{JOB_INSTANCE}}}) / on (instance) "
                f"max by (instance) (redis_config_maxclients{{{JOB_INSTANCE}}})", "{{instance}}")], "percentunit",
              thresholds=[(alert_threshold("RedisTooManyClients"), "red")]),
        Panel("Memory fragmentation", "RSS over the memory Redis uses: about 1 to 1.5 is healthy; above, memory is lost "
              "to fragmentation (activedefrag); below 1, Redis is swapping.",
              [(f"redis_mem_fragmentation_ratio{{{JOB_INSTANCE}}}", "{{instance}}")], "short", width=8),
        Panel("Persistence", "Changes since the last RDB save, and whether that save worked (alert RedisPersistenceFailed).",
              [(f"redis_rdb_changes_since_last_save{{{JOB_INSTANCE}}}", "changes {{instance}}"),
               (f"redis_rdb_last_bgsave_status{{{JOB_INSTANCE}}}", "last save ok {{instance}}")], "short", width=8),
        Panel("Replication", "Replicas connected to this instance and the master's replication offset (alerts "
              "RedisMasterLinkDown, RedisReplicationBroken); 0 replicas is normal without replication.",
              [(f"redis_connected_slaves{{{JOB_INSTANCE}}}", "replicas {{instance}}")], "short", width=8),
    ]
    return dashboard("redis", "Redis", "Redis through redis_exporter: availability, memory against maxmemory, clients, "
                     "commands, hit ratio, evictions.", panels, ["observability-stack", "data-stores"],
                     [("Runbooks", RUNBOOKS)], "label_values(redis_up, job)",
                     [variable("instance", "Instance", 'label_values(redis_up{job=~"$job"}, instance)')])
