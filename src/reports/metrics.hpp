// Results (and a screen verdict) as metrics for Prometheus, in the text exposition format that
// node_exporter's textfile collector reads, so a fleet's rates land on the dashboards.
//
// Every metric is a gauge without a timestamp (the textfile collector refuses timestamps), in base
// units: FLOP/s and bytes/s rates, seconds, and 0–1 ratios. Labels are few and bounded: host,
// device, device_model, backend, kind (kind_label) and problem (describe: bounded by the suite).
// The format is Prometheus text 0.0.4; OpenMetrics adds only the "# EOF" line at the end, which the
// classic parser (node_exporter, promtool) reads as a comment (docs/cluster.md).
#pragma once

#include <string>
#include <vector>

#include "reports/fleet.hpp"
#include "reports/screen.hpp"

namespace trainrate::reports {

enum class MetricsFormat { prometheus, openmetrics };

// Throws InputError when a host and device appear in two files (their series would collide).
std::string render_metrics(const std::vector<FleetNode>& files, const ScreenReport* screen, MetricsFormat format);

}  // namespace trainrate::reports
