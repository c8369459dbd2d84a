#!/usr/bin/env bash
# Runs the unit tests and a kernel + lesson smoke test on another Node LTS line, with the Node
# binary from the npm registry's `node` package (no system change):
#   bash scripts/test-on-node.sh 24
# The full suite runs on the default Node (npm test); this checks that what a learner installs on
# Node 22 or 24 loads, trains, and runs the lesson notebook through the kernel.
set -euo pipefail
cd "$(dirname "$0")/.."
version="${1:?usage: scripts/test-on-node.sh <major version, e.g. 24>}"
tests=(
  test/compat-install.test.ts test/layering.test.ts test/losses.test.ts test/metrics.test.ts test/frozen.test.ts
  test/train.test.ts test/model-methods.test.ts test/features.test.ts test/data-npy.test.ts test/h5.test.ts
  test/onnx-session.test.ts test/backend.test.ts test/export.test.ts
  test/kernel.test.ts test/kernel-node-version.test.ts test/lesson.test.ts
)
echo "== Node ${version}: $(npx -y -p "node@${version}" -- node --version)"
npx -y -p "node@${version}" -- node --import tsx --test "${tests[@]}"
