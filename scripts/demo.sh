#!/usr/bin/env bash
# The README's first command: brings the local cluster up (building its tools
# on first use). Later steps run the operator and apply the sample.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
test/cluster/cluster.sh up "${PROFILE:-ha}"
