#!/usr/bin/env bash
# Validates an OLM bundle directory with operator-sdk and the operatorframework
# optional suite, and fails on any error or warning; then checks it against
# OLM v1's limits for registry+v1 bundles (hack/olm-v1-limits.js):
#   hack/validate-bundle.sh OPERATOR_SDK BUNDLE_DIR
set -euo pipefail
sdk=${1:?usage: validate-bundle.sh OPERATOR_SDK BUNDLE_DIR}
dir=${2:?usage: validate-bundle.sh OPERATOR_SDK BUNDLE_DIR}
out=$(mktemp) err=$(mktemp)
trap 'rm -f "$out" "$err"' EXIT
status=0
"$sdk" bundle validate "$dir" --select-optional suite=operatorframework --output json-alpha1 >"$out" 2>"$err" || status=$?
# Print every result, then fail on errors and warnings alike.
# shellcheck disable=SC2016 # a JavaScript program, not shell
node -e '
const text = require("fs").readFileSync(process.argv[1], "utf8");
const start = text.indexOf("{");
if (start < 0) { console.error(text + require("fs").readFileSync(process.argv[2], "utf8")); process.exit(1); }
const report = JSON.parse(text.slice(start));
const outputs = report.outputs ?? [];
for (const o of outputs) console.log(`${o.type}: ${o.message}`);
const bad = outputs.filter((o) => o.type === "error" || o.type === "warning");
if (!report.passed || bad.length > 0) {
  console.error(`bundle validation: ${bad.length} error(s)/warning(s)${report.passed ? "" : ", failed"}`);
  process.exit(1);
}
console.log("bundle validation: passed with no errors and no warnings (suite=operatorframework)");
' "$out" "$err" || { [ "$status" -eq 0 ] || echo "operator-sdk exited $status" >&2; exit 1; }
# OLM v1 (operator-controller) installs a narrower set of registry+v1 bundles.
node "$(dirname "${BASH_SOURCE[0]}")/olm-v1-limits.js" "$dir"
