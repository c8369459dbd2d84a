#!/bin/bash
# Builds .gpukit/ (git-ignored), what bench/gpu/run-on-device.sh needs on a GPU machine that has no
# Node: node.xz (this Node), kit.tar.xz (dist/ and a slim node_modules: the files the device bench
# loads, found by running it small on a software Vulkan, plus the binaries it opens itself) and the
# Vulkan loader's .deb for a machine without one. The tree that travels must stay under 64 MiB.
#   bash bench/gpu/make-kit.sh        (after npm ci, npm run build and scripts/fetch-lavapipe.sh)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KIT=$ROOT/.gpukit
cd "$ROOT"
[ -f dist/lib/index.js ] || { echo "make-kit: dist/ is missing: run npm run build first" >&2; exit 1; }
LAVAPIPE=${TSLAB_DL_LAVAPIPE:-$ROOT/.cache/lavapipe}
[ -f "$LAVAPIPE/env.sh" ] || { echo "make-kit: no lavapipe in $LAVAPIPE: run bash scripts/fetch-lavapipe.sh $LAVAPIPE" >&2; exit 1; }
rm -rf "$KIT" && mkdir -p "$KIT"
LIST=$(mktemp)
STAGE=$(mktemp -d)
trap 'rm -rf "$LIST" "$STAGE"' EXIT

echo "make-kit: running the device bench small on lavapipe to see what it loads"
(
  # shellcheck disable=SC1091
  source "$LAVAPIPE/env.sh"
  HW=32 BATCH=2 BATCHES=1 TSLAB_DL_SAMPLES=32 LIST_LOADED=$LIST timeout 900 node -r ./bench/gpu/list-loaded.cjs bench/gpu/device-bench.mjs > "$KIT/dry-run.log" 2>&1
) || { echo "make-kit: the dry run failed; see $KIT/dry-run.log" >&2; exit 1; }
grep -q '^FIGURES ' "$KIT/dry-run.log" || { echo "make-kit: the dry run printed no figures; see $KIT/dry-run.log" >&2; exit 1; }

# Loaded files; every package.json of those packages (Node reads them to resolve, and nested ones
# say whether a folder is CommonJS); what is opened without require: ONNX Runtime's shared
# library, the wasm backend's binaries, and h5wasm (an ES module, imported: not in require.cache).
{
  sed "s#^$ROOT/##" "$LIST"
  for pkg in $(sed -n "s#^$ROOT/\(node_modules/\(@[^/]*/\)\?[^/]*\)/.*#\1#p" "$LIST" | sort -u); do
    find "$pkg" -name package.json -not -path '*/node_modules/*/node_modules/*'
  done
  ls node_modules/onnxruntime-node/bin/napi-v6/linux/x64/libonnxruntime.so.1
  ls node_modules/@tensorflow/tfjs-backend-wasm/dist/*.wasm
  ls node_modules/h5wasm/package.json node_modules/h5wasm/dist/node/*.js
  find dist -name '*.js' -o -name '*.json'
} | sort -u > "$STAGE/files"
tar cf - -T "$STAGE/files" | xz -T2 -9 > "$KIT/kit.tar.xz"
xz -T2 -9 -c "$(command -v node)" > "$KIT/node.xz"
(cd "$KIT" && apt-get download libvulkan1 > /dev/null 2>&1) || echo "make-kit: could not download libvulkan1's .deb (the device must have the Vulkan loader)"
du -sh "$KIT"/*
total=$(du -sb "$KIT" | cut -f1)
echo "make-kit: $((total / 1048576)) MiB in $KIT (with the working tree, under 64 MiB travels)"
