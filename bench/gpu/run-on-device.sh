#!/bin/bash
# The one command for a GPU machine (bench/gpu/README.md): unpacks .gpukit/ (bench/gpu/make-kit.sh),
# finds the NVIDIA Vulkan driver, runs PyTorch's peer figures (bench/gpu/torch_peer.py) and the
# library's (bench/gpu/device-bench.mjs), and writes $OUT/device.log, $OUT/torch.json and
# $OUT/figures.json. About 6 minutes on an H200; every step has its own time limit.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
KIT=$ROOT/.gpukit
OUT=${OUT:-/tmp/tslab-dl-gpu-out}
WORK=/tmp/tslab-dl-gpu
mkdir -p "$OUT" "$WORK"
exec > >(tee "$OUT/device.log") 2>&1
started=$(date +%s)
say() { echo "== [$(( $(date +%s) - started )) s] $*"; }

say unpack
xz -dc "$KIT/node.xz" > "$WORK/node" && chmod +x "$WORK/node"
tar xJf "$KIT/kit.tar.xz" -C "$ROOT"
if ! ldconfig -p | grep -q 'libvulkan.so.1'; then
  dpkg -x "$KIT"/libvulkan1_*.deb "$WORK/vulkan"
  export LD_LIBRARY_PATH=$WORK/vulkan/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
fi
if [ -z "${VK_DRIVER_FILES:-}" ]; then
  for icd in /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd VK_ICD_FILENAMES=$icd; break; fi
  done
fi
echo "node $("$WORK/node" --version); VK_DRIVER_FILES=${VK_DRIVER_FILES:-(none found)}"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>/dev/null || echo "nvidia-smi: not available"

say "PyTorch peer (fp32 and bf16)"
if [ "${SKIP_TORCH:-0}" = 0 ]; then
  timeout 240 python3 bench/gpu/torch_peer.py 20 > "$OUT/torch.json" || echo '{"error":"torch_peer.py failed or timed out"}' > "$OUT/torch.json"
  cat "$OUT/torch.json"
fi

say "tslab-dl: base images/s per route, fine-tuning step, the lesson"
OUT=$OUT timeout "${BENCH_TIMEOUT:-420}" "$WORK/node" bench/gpu/device-bench.mjs || say "device-bench.mjs failed or timed out"

say "ratios against PyTorch"
"$WORK/node" -e '
const fs = require("fs");
const read = (f) => { try { return JSON.parse(fs.readFileSync(f, "utf8")); } catch { return {}; } };
const torch = read(process.argv[1]), ours = read(process.argv[2]);
for (const [route, r] of Object.entries(ours.base ?? {})) {
  const ratio = (k) => (torch[k] ? (r.imagesPerSecond / torch[k]).toFixed(3) : "n/a");
  console.log(`${route}: ${r.imagesPerSecond.toFixed(1)} images/s; vs PyTorch fp32 ${ratio("fp32_images_per_second")}x, bf16 ${ratio("bf16_images_per_second")}x; max relative difference from the CPU ${r.relativeError ?? "n/a"}`);
}
' "$OUT/torch.json" "$OUT/figures.json"
say done
