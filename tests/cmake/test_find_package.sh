#!/usr/bin/env bash
# A C++ user's view, both ways a C++ user gets deepcomp: `make install PREFIX=...` and a pip-installed
# package (deepcomp.cmake_prefix_path). Each builds examples/cpp as a separate CMake project that only
# does find_package(deepcomp) and links deepcomp::deepcomp, linked with --as-needed as many
# distributions do by default, and runs a model traced in Python from a program that calls no
# deepcomp function (the op registrations must survive the link).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${1:-build/cmake}
python=${PYTHON:-.venv/bin/python}
prefix="$PWD/build/install"
cmake --install "$build" --prefix "$prefix" > /dev/null
"$python" examples/cpp/trace_for_cpp.py build/traced 2> /dev/null

consumer() {  # consumer BUILD_DIR PREFIX_PATH [TARGET]: configure and build examples/cpp against a package
  cmake -S examples/cpp -B "$1" -DCMAKE_PREFIX_PATH="$2" -DCMAKE_EXE_LINKER_FLAGS=-Wl,--as-needed > /dev/null
  cmake --build "$1" -j "$(nproc)" ${3:+--target "$3"}
  "$1/run_traced" build/traced/model.pt build/traced/input.pt build/traced/expected.pt
}

consumer build/consumer "$prefix"
build/consumer/prune_mlp
# The LibTorch training program, briefly: every stage, the .dcz file and its reload.
if [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  build/consumer/lenet300_fashion_mnist --epochs 2 --retrain-epochs 1 --rounds 1 --finetune-epochs 1 \
    --train-limit 2000 --out build/consumer/lenet300.dcz | tail -n 1
else
  echo "lenet300_fashion_mnist not run: no Fashion-MNIST (apt-get install dataset-fashion-mnist)"
fi
echo "find_package(deepcomp) consumer of $prefix: built and ran"

consumer build/consumer-pip "$("$python" -c 'import deepcomp; print(deepcomp.cmake_prefix_path)')" run_traced
echo "find_package(deepcomp) consumer of the pip-installed package: built and ran"
