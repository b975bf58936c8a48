"""Host (uid node): The Docker host seen by node-exporter: CPU, memory, filesystems, disks, network."""
from __future__ import annotations

from typing import Any

from .builder import RUNBOOKS, Panel, alert_threshold, dashboard, variable
from .selectors import JOB_INSTANCE


def build() -> dict[str, Any]:
    panels = [
        Panel("CPU utilisation", "Busy share of all CPUs (not idle, iowait or steal), from "
              "instance:node_cpu_utilisation:rate5m; alert NodeCPUHighUsage (info) above 90% for 15 min.",
              [(f"instance:node_cpu_utilisation:rate5m{{{JOB_INSTANCE}}}", "{{instance}}")], "percentunit", kind="stat", width=6, height=4,
              thresholds=[(alert_threshold("NodeCPUHighUsage"), "red")]),
        Panel("Memory utilisation", "1 - MemAvailable / MemTotal, from instance:node_memory_utilisation:ratio; "
              "alert NodeMemoryHighUtilization above 90% for 15 min.",
              [(f"instance:node_memory_utilisation:ratio{{{JOB_INSTANCE}}}", "{{instance}}")], "percentunit", kind="stat", width=6, height=4,
              thresholds=[(alert_threshold("NodeMemoryHighUtilization"), "red")]),
        Panel("Fullest filesystem", "Used space of the fullest filesystem; alerts NodeFilesystemAlmostOutOfSpace "
              "at 95% (warning) and 97% (critical).",
              [(f"max by (instance) (instance_mountpoint:node_filesystem_utilisation:ratio{{{JOB_INSTANCE}}})", "{{instance}}")],
              "percentunit", kind="stat", width=6, height=4, thresholds=[(alert_threshold("NodeFilesystemAlmostOutOfSpace", "warning"), "orange"), (alert_threshold("NodeFilesystemAlmostOutOfSpace", "critical"), "red")]),
        Panel("Load per CPU", "1-minute load average per CPU, from instance:node_load1_per_cpu:ratio; "
              "alert NodeSystemSaturation above 2 for 15 min.",
              [(f"instance:node_load1_per_cpu:ratio{{{JOB_INSTANCE}}}", "{{instance}}")], "short", kind="stat", width=6, height=4, thresholds=[(alert_threshold("NodeSystemSaturation"), "red")]),
        Panel("CPU and memory utilisation", "CPU busy share and memory used share of the host over time "
              "(alerts NodeCPUHighUsage and NodeMemoryHighUtilization at 90%).",
              [(f"instance:node_cpu_utilisation:rate5m{{{JOB_INSTANCE}}}", "CPU {{instance}}"),
               (f"instance:node_memory_utilisation:ratio{{{JOB_INSTANCE}}}", "memory {{instance}}")], "percentunit",
              # One line for both alerts: their thresholds are equal (tests/unit/test_alert_thresholds.py).
              thresholds=[(alert_threshold("NodeCPUHighUsage"), "red")]),
        Panel("Load per CPU over time", "1-minute load average divided by the number of CPUs; above 2 tasks wait "
              "(alert NodeSystemSaturation).",
              [(f"instance:node_load1_per_cpu:ratio{{{JOB_INSTANCE}}}", "{{instance}}")], "short", thresholds=[(alert_threshold("NodeSystemSaturation"), "red")]),
        Panel("Filesystem utilisation", "Used space per filesystem (tmpfs, overlay and squashfs left out); "
              "alert NodeFilesystemAlmostOutOfSpace at 95% and 97%, NodeFilesystemSpaceFillingUp when over 60%/80% and filling up.",
              [(f"instance_mountpoint:node_filesystem_utilisation:ratio{{{JOB_INSTANCE}}}", "{{mountpoint}} ({{device}})")],
              "percentunit", thresholds=[(alert_threshold("NodeFilesystemAlmostOutOfSpace", "warning"), "orange"), (alert_threshold("NodeFilesystemAlmostOutOfSpace", "critical"), "red")]),
        Panel("Filesystem inode utilisation", "Used inodes per filesystem; alerts NodeFilesystemAlmostOutOfFiles "
              "at 95% and 97%.",
              [(f"instance_mountpoint:node_filesystem_files_utilisation:ratio{{{JOB_INSTANCE}}}", "{{mountpoint}} ({{device}})")],
              "percentunit", thresholds=[(alert_threshold("NodeFilesystemAlmostOutOfFiles", "warning"), "orange"), (alert_threshold("NodeFilesystemAlmostOutOfFiles", "critical"), "red")]),
        Panel("Disk busy time", "Share of time each disk was busy, from instance_device:node_disk_io_time_seconds:rate5m "
              "(100% is not saturation on SSD/NVMe).",
              [(f"instance_device:node_disk_io_time_seconds:rate5m{{{JOB_INSTANCE}}}", "{{device}}")], "percentunit"),
        Panel("Disk queue depth", "Average requests in flight per disk (iostat aqu-sz); alert NodeDiskIOSaturation "
              "above 10.",
              [(f"instance_device:node_disk_io_time_weighted_seconds:rate5m{{{JOB_INSTANCE}}}", "{{device}}")], "short",
              thresholds=[(alert_threshold("NodeDiskIOSaturation"), "red")]),
        Panel("Disk throughput", "Bytes read and written per second per disk.",
              [(f"sum by (device) (rate(node_disk_read_bytes_total{{{JOB_INSTANCE}}}[$__rate_interval]))", "read {{device}}"),
               (f"sum by (device) (rate(node_disk_written_bytes_total{{{JOB_INSTANCE}}}[$__rate_interval]))", "write {{device}}")],
              "Bps"),
        Panel("Disk IOPS", "Reads and writes completed per second per disk.",
              [(f"sum by (device) (rate(node_disk_reads_completed_total{{{JOB_INSTANCE}}}[$__rate_interval]))", "read {{device}}"),
               (f"sum by (device) (rate(node_disk_writes_completed_total{{{JOB_INSTANCE}}}[$__rate_interval]))", "write {{device}}")],
              "iops"),
        Panel("Network traffic", "Bytes received and sent per second per interface (node-exporter's own network "
              "namespace in Docker; lo left out).",
              [(f'sum by (instance, device) (rate(node_network_receive_bytes_total{{{JOB_INSTANCE}, device!="lo"}}'
                '[$__rate_interval]))', "in {{instance}} {{device}}"),
               (f'sum by (instance, device) (rate(node_network_transmit_bytes_total{{{JOB_INSTANCE}, device!="lo"}}'
                '[$__rate_interval]))', "out {{instance}} {{device}}")], "Bps"),
        Panel("Network errors and drops", "Receive/transmit errors and drops per second (alerts NodeNetworkReceiveErrs, "
              "NodeNetworkTransmitErrs).",
              [(f"sum by (device) (rate(node_network_receive_errs_total{{{JOB_INSTANCE}}}[$__rate_interval]))", "rx errs {{device}}"),
               (f"sum by (device) (rate(node_network_transmit_errs_total{{{JOB_INSTANCE}}}[$__rate_interval]))", "tx errs {{device}}"),
               (f"sum by (device) (rate(node_network_receive_drop_total{{{JOB_INSTANCE}}}[$__rate_interval]))", "rx drop {{device}}"),
               (f"sum by (device) (rate(node_network_transmit_drop_total{{{JOB_INSTANCE}}}[$__rate_interval]))", "tx drop {{device}}")],
              "pps"),
        Panel("Major page faults", "Pages read back from disk per second; alert NodeMemoryMajorPagesFaults above 500/s.",
              [(f"instance:node_vmstat_pgmajfault:rate5m{{{JOB_INSTANCE}}}", "{{instance}}")], "ops", thresholds=[(alert_threshold("NodeMemoryMajorPagesFaults"), "red")]),
        Panel("OOM kills", "Processes the kernel OOM killer killed (alert NodeOomKillDetected on any).",
              [(f"sum by (instance) (increase(node_vmstat_oom_kill{{{JOB_INSTANCE}}}[$__interval]))", "{{instance}}")],
              "short", thresholds=[(1.0, "red")]),
    ]
    return dashboard("node", "Host", "The Docker host seen by node-exporter: CPU, memory, filesystems, disks, network.",
                     panels, ["observability-stack", "infrastructure"], [("Runbooks", RUNBOOKS)],
                     "label_values(node_uname_info, job)",
                     [variable("instance", "Instance", 'label_values(node_uname_info{job=~"$job"}, instance)')])
