#!/usr/bin/env bash
# A C++ user's view: install deepcomp, then build and run examples/cpp as a separate CMake project
# that only does find_package(deepcomp) and links deepcomp::deepcomp.
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/cmake}
prefix="$PWD/build/install"
cmake --install "$build" --prefix "$prefix" > /dev/null
cmake -S examples/cpp -B build/consumer -DCMAKE_PREFIX_PATH="$prefix" > /dev/null
cmake --build build/consumer -j "$(nproc)"
build/consumer/prune_mlp
echo "find_package(deepcomp) consumer: built and ran"
