"""PostgreSQL (uid postgresql): PostgreSQL through postgres_exporter: availability, connections, transactions,
cache, deadlocks, size."""
from __future__ import annotations

from typing import Any

from .builder import (
    ROWS_PER_SECOND,
    RUNBOOKS,
    UP_DOWN,
    Panel,
    alert_threshold,
    dashboard,
    variable,
)
from .selectors import JOB_INSTANCE, PG_DATABASES


def build() -> dict[str, Any]:
    panels = [
        Panel("Up", "1 when postgres_exporter reaches the server (alert PostgresqlDown on 0).",
              [(f"pg_up{{{JOB_INSTANCE}}}", "{{instance}}")], "none", mappings=UP_DOWN, kind="stat", width=6, height=4, thresholds=[(0.0, "red"), (1.0, "green")]),
        Panel("Connections used", "Client connections as a share of max_connections "
              "(instance:pg_connections_utilisation:ratio); alerts PostgresqlTooManyConnections at 80%, "
              "PostgresqlMaxConnectionsReached at 100%.",
              [(f"instance:pg_connections_utilisation:ratio{{{JOB_INSTANCE}}}", "{{instance}}")], "percentunit", kind="stat", width=6, height=4,
              thresholds=[(alert_threshold("PostgresqlTooManyConnections"), "orange"), (1.0, "red")]),
        Panel("Max connections", "The server's max_connections setting.",
              [(f"max by (instance) (pg_settings_max_connections{{{JOB_INSTANCE}}})", "{{instance}}")], "short", kind="stat", width=6, height=4),
        Panel("Longest transaction", "Age of the oldest open client transaction (alert PostgresqlLongRunningTransaction "
              "above 120 s).",
              [(f'max by (instance) (pg_stat_activity_max_tx_duration{{{PG_DATABASES}, backend_type="client backend"}})',
                "{{instance}}")],
              "s", kind="stat", width=6, height=4, thresholds=[(alert_threshold("PostgresqlLongRunningTransaction"), "red")]),
        Panel("Connections by state", "Client connections by state, against max_connections.",
              [(f'sum by (instance, state) (pg_stat_activity_count{{{PG_DATABASES}, backend_type="client backend"}})',
                "{{instance}} {{state}}"),
               (f"max(pg_settings_max_connections{{{JOB_INSTANCE}}})", "max_connections")], "short"),
        Panel("Transactions", "Commits and rollbacks per second per database (alert PostgresqlHighRollbackRatio above 10% "
              "rollbacks).",
              [(f"sum by (datname) (rate(pg_stat_database_xact_commit{{{PG_DATABASES}}}[$__rate_interval]))", "commit {{datname}}"),
               (f"sum by (datname) (rate(pg_stat_database_xact_rollback{{{PG_DATABASES}}}[$__rate_interval]))", "rollback {{datname}}")],
              "ops"),
        Panel("Cache hit ratio", "Blocks found in shared buffers / all blocks read, per database; alert "
              "PostgresqlLowCacheHitRatio below 98%.",
              [(f"sum by (datname) (rate(pg_stat_database_blks_hit{{{PG_DATABASES}}}[$__rate_interval])) / (sum by (datname) "
                f"(rate(pg_stat_database_blks_hit{{{PG_DATABASES}}}[$__rate_interval]) + rate(pg_stat_database_blks_read{{{PG_DATABASES}}}"
                f"[$__rate_interval])) > 0)", "{{datname}}")], "percentunit",
              thresholds=[(0.0, "red"), (alert_threshold("PostgresqlLowCacheHitRatio"), "green")]),
        Panel("Deadlocks", "Deadlocks per minute per database (alert PostgresqlDeadlocks above 5/min).",
              [(f"sum by (datname) (rate(pg_stat_database_deadlocks{{{PG_DATABASES}}}[$__rate_interval])) * 60", "{{datname}}")],
              "opm", thresholds=[(alert_threshold("PostgresqlDeadlocks"), "red")]),
        Panel("Database size", "On-disk size of each database.",
              [(f"sum by (datname) (pg_database_size_bytes{{{PG_DATABASES}}})", "{{datname}}")], "bytes"),
        Panel("Rows", "Rows fetched, inserted, updated and deleted per second, all databases.",
              [(f"sum(rate(pg_stat_database_tup_fetched{{{PG_DATABASES}}}[$__rate_interval]))", "fetched"),
               (f"sum(rate(pg_stat_database_tup_inserted{{{PG_DATABASES}}}[$__rate_interval]))", "inserted"),
               (f"sum(rate(pg_stat_database_tup_updated{{{PG_DATABASES}}}[$__rate_interval]))", "updated"),
               (f"sum(rate(pg_stat_database_tup_deleted{{{PG_DATABASES}}}[$__rate_interval]))", "deleted")], ROWS_PER_SECOND),
        Panel("Locks by mode", "Locks held per mode and database; a growing count of exclusive locks means waiting "
              "queries (look for Longest transaction).",
              [(f"sum by (datname, mode) (pg_locks_count{{{PG_DATABASES}}})", "{{datname}} {{mode}}")], "short"),
        Panel("Idle in transaction", "Client sessions idle inside an open transaction: they hold locks and block vacuum; "
              "0 is good.",
              [(f'sum by (instance) (pg_stat_activity_count{{{PG_DATABASES}, state=~"idle in transaction.*"}})', "{{instance}}")],
              "short", thresholds=[(1.0, "orange")]),
        Panel("Temporary files", "Bytes written to temporary files per second (sorts and hashes larger than work_mem); "
              "steady writes mean work_mem is too small for the queries.",
              [(f"sum by (datname) (rate(pg_stat_database_temp_bytes{{{PG_DATABASES}}}[$__rate_interval]))", "{{datname}}")],
              "Bps"),
        Panel("Checkpoints", "Checkpoints per minute, timed (by checkpoint_timeout, good) and requested (the WAL "
              "filled first: raise max_wal_size if these are frequent).",
              [(f"rate(pg_stat_bgwriter_checkpoints_timed_total{{{JOB_INSTANCE}}}[$__rate_interval]) * 60", "timed/min {{instance}}"),
               (f"rate(pg_stat_bgwriter_checkpoints_req_total{{{JOB_INSTANCE}}}[$__rate_interval]) * 60", "requested/min {{instance}}")],
              "opm"),
        Panel("Background writer halts", "Times per minute the background writer stopped a cleaning round because it "
              "had written bgwriter_lru_maxpages buffers; 0 is good. Steadily above 0, backends write dirty buffers "
              "themselves: raise bgwriter_lru_maxpages.",
              [(f"rate(pg_stat_bgwriter_maxwritten_clean_total{{{JOB_INSTANCE}}}[$__rate_interval]) * 60", "{{instance}}")],
              "opm"),
    ]
    return dashboard("postgresql", "PostgreSQL", "PostgreSQL through postgres_exporter: availability, connections, "
                     "transactions, cache, deadlocks, size.", panels, ["observability-stack", "data-stores"],
                     [("Runbooks", RUNBOOKS)], "label_values(pg_up, job)",
                     [variable("instance", "Instance", 'label_values(pg_up{job=~"$job"}, instance)'),
                      variable("db", "Database", 'label_values(pg_database_size_bytes{job=~"$job", instance=~"$instance", datname!~"template.*"}, datname)')])
