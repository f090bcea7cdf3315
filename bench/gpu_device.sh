#!/usr/bin/env bash
# Training and evaluation images/s of the webgpu backend on a real GPU (Vulkan), with the
# software adapter (llvmpipe through GL) rerun beside it in the same run, and where a step goes
# on the GPU (device timestamps). For a machine with a GPU and no network.
#
#   bash bench/gpu_device.sh [steps]          (from the repository root; steps default 40)
#
# Needs Deno 2.9.6: on PATH, at .tools/node_modules/.bin/deno (what .ci/run installs), or as
# .tools/deno.xz, unpacked here (a machine without npm access can be handed one made with
# `mkdir -p .tools && xz -T0 -6 -c "$(command -v deno)" > .tools/deno.xz`). The data are
# synthetic (bench/train_bench.ts --data synthetic), so no npm package is needed. Prints each
# figure with the adapter that produced it; compare figures only within one adapter.
set -uo pipefail
cd "$(dirname "$0")/.."
steps="${1:-40}"

if ! command -v deno >/dev/null 2>&1; then
  if [ -x .tools/node_modules/.bin/deno ]; then
    export PATH="$PWD/.tools/node_modules/.bin:$PATH"
  elif [ -f .tools/deno.xz ]; then
    mkdir -p .tools/bin && xz -dc .tools/deno.xz > .tools/bin/deno && chmod +x .tools/bin/deno
    export PATH="$PWD/.tools/bin:$PATH"
  else
    echo "bench/gpu_device.sh: no deno (PATH, .tools/node_modules/.bin/deno or .tools/deno.xz)"
    exit 2
  fi
fi
deno --version | head -1
command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
export DENO_DIR="${DENO_DIR:-$(mktemp -d)/deno}"
bench() { deno run -A --no-prompt bench/train_bench.ts --backend webgpu --data synthetic \
  --steps "$steps" --eval-passes 2 "$@"; }

echo "== real GPU through Vulkan: default strategy (tiled where the adapter is not software)"
DENO_WEBGPU_BACKEND=vulkan bench
echo "== real GPU through Vulkan: the software adapters' blocked kernels, for comparison"
DENO_WEBGPU_BACKEND=vulkan bench --matmul blocked
echo "== real GPU: where a step goes (device timestamps, one pass per dispatch)"
DENO_WEBGPU_BACKEND=vulkan deno run -A --no-prompt bench/step_profile.ts --reps 5 --top 15
echo "== software adapter beside it: llvmpipe through GL"
LIBGL_ALWAYS_SOFTWARE=1 DENO_WEBGPU_BACKEND=gl bench --steps "$((steps / 2))"
