#!/usr/bin/env bash
# All of deepcomp's set-up, idempotent and quick when already done:
#   1. Debian packages (compilers, CMake, Catch2, the Fashion-MNIST data set, clang for fuzzing, xxHash);
#   2. a virtual environment .venv with the pinned Python packages of requirements.txt;
#   3. the build: the Python package (pip, through CMake) and the C++ tests and examples.
# Environment: PYTHON (interpreter for the venv, default python3), DEEPCOMP_FORCE_CPU=1 (no CUDA).
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(build-essential cmake ccache catch2 dataset-fashion-mnist clang libclang-rt-14-dev libxxhash-dev zlib1g-dev)
missing=()
for package in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "${PYTHON:-python3}" -m venv .venv
fi
stamp=.venv/.requirements.sha256
if ! sha256sum --check --status "$stamp" 2>/dev/null; then
  # torch and its CUDA libraries take 5.5 GiB installed and 8.5 GiB at the peak of the install
  # (measured); say so up front rather than fail half-way with ENOSPC. No pip cache: it would keep
  # another 3 GiB of wheels that are never used again.
  need_gib=9
  for dir in . "${TMPDIR:-/tmp}"; do
    free_gib=$(( $(df --output=avail -k "$dir" | tail -1) / 1024 / 1024 ))
    if (( free_gib < need_gib )); then
      echo "setup: the Python packages need about $need_gib GiB free, but $(realpath "$dir") has $free_gib GiB" >&2
      exit 1
    fi
  done
  echo "setup: installing pinned Python packages"
  .venv/bin/python -m pip install -q --no-cache-dir --upgrade pip
  .venv/bin/python -m pip install -q --no-cache-dir -r requirements.txt
  sha256sum requirements.txt > "$stamp"
fi

echo "setup: building deepcomp"
jobs="$(nproc)"
MAX_JOBS="$jobs" .venv/bin/python -m pip install -q --no-build-isolation --no-deps .
cmake --build build/cmake -j "$jobs"
