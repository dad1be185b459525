#!/usr/bin/env bash
# Every GPU check, on a machine with a CUDA device, in one run (well inside 8 minutes on the H200):
# build deepcomp against that machine's torch, run the Catch2 CUDA twins and pytest's cuda cases (the
# rest is CI's), compute-sanitizer memcheck, racecheck and synccheck on small cases, and the
# GPU benchmarks; a table of the steps comes last. Logs go to $OUT (default build/device-logs).
# Before: scripts/vendor_deps.sh here, then carry third_party to the device.
set -uo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-build/device-logs}
mkdir -p "$out"
export CMAKE_PREFIX_PATH="$PWD/third_party/catch2/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export DEEPCOMP_CMAKE_BUILD_DIR=build/device MAX_JOBS=$(nproc)
command -v ninja > /dev/null && export CMAKE_GENERATOR=Ninja
rows=()

step() {  # step NAME COMMAND...: runs it, logs to $out/NAME.log, records status and seconds
  local name=$1 start status
  shift
  start=$(date +%s)
  if "$@" > "$out/$name.log" 2>&1; then status=pass; else status=FAIL; fi
  rows+=("$(printf '%-22s %-5s %5ss' "$name" "$status" "$(($(date +%s) - start))")")
  echo "${rows[-1]}"
}

# The machine's own python3 (it holds torch; the machine is bare each time). Not a venv made from it:
# python3 there is itself a venv, so --system-site-packages would reach only the base Python's packages.
py=python3
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$out/gpu.txt" 2>&1
step build "$py" -m pip install --no-build-isolation --no-deps --no-index -q .
step build-tests cmake --build build/device --target deepcomp_tests deepcomp_cuda_tests
step ctest-cuda ctest --test-dir build/device --output-on-failure -L cuda
step pytest-cuda "$py" -m pytest -q -m cuda tests/python -p no:cacheprovider
if command -v compute-sanitizer > /dev/null; then
  step memcheck compute-sanitizer --tool memcheck --error-exitcode 1 build/device/tests/cpp/deepcomp_cuda_tests "[apply_mask],[sanitize]"
  step racecheck compute-sanitizer --tool racecheck --error-exitcode 1 build/device/tests/cpp/deepcomp_cuda_tests "[sanitize]"
  step synccheck compute-sanitizer --tool synccheck --error-exitcode 1 build/device/tests/cpp/deepcomp_cuda_tests "[sanitize]"
else
  rows+=("compute-sanitizer      absent")
fi
step bench-fp32 "$py" benchmarks/bench_pruning.py --device cuda
step bench-bf16 "$py" benchmarks/bench_pruning.py --device cuda --dtype bfloat16
step bench-kernels "$py" benchmarks/bench_kernels.py --device cuda

echo
echo "GPU: $(cat "$out/gpu.txt")"
printf '%s\n' "${rows[@]}"
echo
grep -h -A40 -m1 "variant" "$out/bench-fp32.log" "$out/bench-bf16.log" 2>/dev/null
cat "$out/bench-kernels.log" 2>/dev/null
! printf '%s\n' "${rows[@]}" | grep -q FAIL
