"""Host (uid node): Each host seen by node-exporter (pick one with Host): CPU, memory, filesystems, disks, network."""
from __future__ import annotations

from typing import Any

from .builder import RUNBOOKS, Panel, alert_threshold, dashboard, variable
from .selectors import HOST_INSTANCE


def build() -> dict[str, Any]:
    panels = [
        Panel("CPU utilisation", "Busy share of all CPUs (not idle, iowait or steal), from "
              "instance:node_cpu_utilisation:rate5m; alert NodeCPUHighUsage (info) above 90% for 15 min.",
              [(f"instance:node_cpu_utilisation:rate5m{{{HOST_INSTANCE}}}", "{{instance}}")], "percentunit", kind="stat", width=6, height=4,
              thresholds=[(alert_threshold("NodeCPUHighUsage"), "red")]),
        Panel("Memory utilisation", "1 - MemAvailable / MemTotal, from instance:node_memory_utilisation:ratio; "
              "alert NodeMemoryHighUtilization above 90% for 15 min.",
              [(f"instance:node_memory_utilisation:ratio{{{HOST_INSTANCE}}}", "{{instance}}")], "percentunit", kind="stat", width=6, height=4,
              thresholds=[(alert_threshold("NodeMemoryHighUtilization"), "red")]),
        Panel("Fullest filesystem", "Used space of the fullest filesystem; alerts NodeFilesystemAlmostOutOfSpace "
              "at 95% (warning) and 97% (critical).",
              [(f"max by (instance) (instance_mountpoint:node_filesystem_utilisation:ratio{{{HOST_INSTANCE}}})", "{{instance}}")],
              "percentunit", kind="stat", width=6, height=4, thresholds=[(alert_threshold("NodeFilesystemAlmostOutOfSpace", "warning"), "orange"), (alert_threshold("NodeFilesystemAlmostOutOfSpace", "critical"), "red")]),
        Panel("Load per CPU", "1-minute load average per CPU, from instance:node_load1_per_cpu:ratio; "
              "alert NodeSystemSaturation above 2 for 15 min.",
              [(f"instance:node_load1_per_cpu:ratio{{{HOST_INSTANCE}}}", "{{instance}}")], "short", kind="stat", width=6, height=4, thresholds=[(alert_threshold("NodeSystemSaturation"), "red")]),
        Panel("CPU and memory utilisation", "CPU busy share and memory used share of the host over time "
              "(alerts NodeCPUHighUsage and NodeMemoryHighUtilization at 90%).",
              [(f"instance:node_cpu_utilisation:rate5m{{{HOST_INSTANCE}}}", "CPU {{instance}}"),
               (f"instance:node_memory_utilisation:ratio{{{HOST_INSTANCE}}}", "memory {{instance}}")], "percentunit",
              # One line for both alerts: their thresholds are equal (tests/unit/test_alert_thresholds.py).
              thresholds=[(alert_threshold("NodeCPUHighUsage"), "red")]),
        Panel("Load per CPU over time", "1-minute load average divided by the number of CPUs; above 2 tasks wait "
              "(alert NodeSystemSaturation).",
              [(f"instance:node_load1_per_cpu:ratio{{{HOST_INSTANCE}}}", "{{instance}}")], "short", thresholds=[(alert_threshold("NodeSystemSaturation"), "red")]),
        Panel("Filesystem utilisation", "Used space per filesystem (tmpfs, overlay and squashfs left out); "
              "alert NodeFilesystemAlmostOutOfSpace at 95% and 97%, NodeFilesystemSpaceFillingUp when over 60%/80% and filling up.",
              [(f"instance_mountpoint:node_filesystem_utilisation:ratio{{{HOST_INSTANCE}}}", "{{mountpoint}} ({{device}})")],
              "percentunit", thresholds=[(alert_threshold("NodeFilesystemAlmostOutOfSpace", "warning"), "orange"), (alert_threshold("NodeFilesystemAlmostOutOfSpace", "critical"), "red")]),
        Panel("Filesystem inode utilisation", "Used inodes per filesystem; alerts NodeFilesystemAlmostOutOfFiles "
              "at 95% and 97%.",
              [(f"instance_mountpoint:node_filesystem_files_utilisation:ratio{{{HOST_INSTANCE}}}", "{{mountpoint}} ({{device}})")],
              "percentunit", thresholds=[(alert_threshold("NodeFilesystemAlmostOutOfFiles", "warning"), "orange"), (alert_threshold("NodeFilesystemAlmostOutOfFiles", "critical"), "red")]),
        Panel("Disk busy time", "Share of time each disk was busy, from instance_device:node_disk_io_time_seconds:rate5m "
              "(100% is not saturation on SSD/NVMe).",
              [(f"instance_device:node_disk_io_time_seconds:rate5m{{{HOST_INSTANCE}}}", "{{device}}")], "percentunit"),
        Panel("Disk queue depth", "Average requests in flight per disk (iostat aqu-sz); alert NodeDiskIOSaturation "
              "above 10.",
              [(f"instance_device:node_disk_io_time_weighted_seconds:rate5m{{{HOST_INSTANCE}}}", "{{device}}")], "short",
              thresholds=[(alert_threshold("NodeDiskIOSaturation"), "red")]),
        Panel("Disk throughput", "Bytes read and written per second per disk.",
              [(f"sum by (device) (rate(node_disk_read_bytes_total{{{HOST_INSTANCE}}}[$__rate_interval]))", "read {{device}}"),
               (f"sum by (device) (rate(node_disk_written_bytes_total{{{HOST_INSTANCE}}}[$__rate_interval]))", "write {{device}}")],
              "Bps"),
        Panel("Disk IOPS", "Reads and writes completed per second per disk.",
              [(f"sum by (device) (rate(node_disk_reads_completed_total{{{HOST_INSTANCE}}}[$__rate_interval]))", "read {{device}}"),
               (f"sum by (device) (rate(node_disk_writes_completed_total{{{HOST_INSTANCE}}}[$__rate_interval]))", "write {{device}}")],
              "iops"),
        Panel("Network traffic", "Bytes received and sent per second per interface (node-exporter's own network "
              "namespace in Docker; lo left out).",
              [(f'sum by (instance, device) (rate(node_network_receive_bytes_total{{{HOST_INSTANCE}, device!="lo"}}'
                '[$__rate_interval]))', "in {{instance}} {{device}}"),
               (f'sum by (instance, device) (rate(node_network_transmit_bytes_total{{{HOST_INSTANCE}, device!="lo"}}'
                '[$__rate_interval]))', "out {{instance}} {{device}}")], "Bps"),
        Panel("Network errors and drops", "Receive/transmit errors and drops per second (alerts NodeNetworkReceiveErrs, "
              "NodeNetworkTransmitErrs).",
              [(f"sum by (device) (rate(node_network_receive_errs_total{{{HOST_INSTANCE}}}[$__rate_interval]))", "rx errs {{device}}"),
               (f"sum by (device) (rate(node_network_transmit_errs_total{{{HOST_INSTANCE}}}[$__rate_interval]))", "tx errs {{device}}"),
               (f"sum by (device) (rate(node_network_receive_drop_total{{{HOST_INSTANCE}}}[$__rate_interval]))", "rx drop {{device}}"),
               (f"sum by (device) (rate(node_network_transmit_drop_total{{{HOST_INSTANCE}}}[$__rate_interval]))", "tx drop {{device}}")],
              "pps"),
        Panel("Major page faults", "Pages read back from disk per second; alert NodeMemoryMajorPagesFaults above 500/s.",
              [(f"instance:node_vmstat_pgmajfault:rate5m{{{HOST_INSTANCE}}}", "{{instance}}")], "ops", thresholds=[(alert_threshold("NodeMemoryMajorPagesFaults"), "red")]),
        Panel("OOM kills", "Processes the kernel OOM killer killed (alert NodeOomKillDetected on any).",
              [(f"sum by (instance) (increase(node_vmstat_oom_kill{{{HOST_INSTANCE}}}[$__interval]))", "{{instance}}")],
              "short", thresholds=[(1.0, "red")]),
        Panel("Pressure stall", "Share of time some task waited for CPU, memory or IO (Linux PSI); near 0 is good, a "
              "sustained rise means the host is short of that resource before it shows as utilisation.",
              [(f"rate(node_pressure_cpu_waiting_seconds_total{{{HOST_INSTANCE}}}[$__rate_interval])", "CPU {{instance}}"),
               (f"rate(node_pressure_memory_waiting_seconds_total{{{HOST_INSTANCE}}}[$__rate_interval])", "memory {{instance}}"),
               (f"rate(node_pressure_io_waiting_seconds_total{{{HOST_INSTANCE}}}[$__rate_interval])", "IO {{instance}}")],
              "percentunit", width=8),
        Panel("CPU by mode", "CPU seconds per second by mode, all CPUs: user and system are work, iowait is waiting on "
              "disks, steal is time the hypervisor gave to others (any steal means a noisy neighbour).",
              [(f'sum by (instance, mode) (rate(node_cpu_seconds_total{{{HOST_INSTANCE}, mode!="idle"}}[$__rate_interval]))',
                "{{instance}} {{mode}}")], "short", width=8),
        Panel("Disk await", "Average time a read or a write waits and is served, per device; a few ms on SSD is good, "
              "tens of ms under load means a saturated disk (alert NodeDiskIOSaturation).",
              [(f"rate(node_disk_read_time_seconds_total{{{HOST_INSTANCE}}}[$__rate_interval]) / "
                f"(rate(node_disk_reads_completed_total{{{HOST_INSTANCE}}}[$__rate_interval]) > 0)", "read {{instance}} {{device}}"),
               (f"rate(node_disk_write_time_seconds_total{{{HOST_INSTANCE}}}[$__rate_interval]) / "
                f"(rate(node_disk_writes_completed_total{{{HOST_INSTANCE}}}[$__rate_interval]) > 0)", "write {{instance}} {{device}}")],
              "s", width=8),
        Panel("Memory breakdown", "Where memory goes: applications (total - available), page cache, buffers, slab and "
              "swap in use. Cache is given back on demand; growing swap use is not.",
              [(f"node_memory_MemTotal_bytes{{{HOST_INSTANCE}}} - node_memory_MemAvailable_bytes{{{HOST_INSTANCE}}}", "used {{instance}}"),
               (f"node_memory_Cached_bytes{{{HOST_INSTANCE}}}", "cache {{instance}}"),
               (f"node_memory_Buffers_bytes{{{HOST_INSTANCE}}}", "buffers {{instance}}"),
               (f"node_memory_Slab_bytes{{{HOST_INSTANCE}}}", "slab {{instance}}"),
               (f"node_memory_SwapTotal_bytes{{{HOST_INSTANCE}}} - node_memory_SwapFree_bytes{{{HOST_INSTANCE}}}", "swap used {{instance}}")],
              "bytes", width=8),
        Panel("File descriptors", "Open file descriptors against the kernel's maximum; far below is good.",
              [(f"node_filefd_allocated{{{HOST_INSTANCE}}} / node_filefd_maximum{{{HOST_INSTANCE}}}", "{{instance}}")],
              "percentunit", width=8),
        Panel("Conntrack table", "Tracked connections against the table's limit; a full table drops new connections.",
              [(f"node_nf_conntrack_entries{{{HOST_INSTANCE}}} / node_nf_conntrack_entries_limit{{{HOST_INSTANCE}}}", "{{instance}}")],
              "percentunit", width=8),
    ]
    return dashboard("node", "Host", "Each host seen by node-exporter (pick one with Host): CPU, memory, filesystems, disks, network.",
                     panels, ["observability-stack", "infrastructure"], [("Runbooks", RUNBOOKS)],
                     "label_values(node_uname_info, job)",
                     [variable("host", "Host", 'label_values(node_uname_info{job=~"$job"}, host)'),
                      variable("instance", "Instance", 'label_values(node_uname_info{job=~"$job", host=~"$host"}, instance)')])
