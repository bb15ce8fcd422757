#!/usr/bin/env bash
# Checks the alert rules with Prometheus's own tool (Debian: apt-get install prometheus; it ships promtool).
# The test suite checks the same files without it (OpsArtifactsTest).
set -euo pipefail
cd "$(dirname "$0")"
command -v promtool >/dev/null || { echo "promtool not found: apt-get install prometheus" >&2; exit 1; }
promtool check rules opentime-alerts.yml
promtool test rules opentime-alerts.test.yml
