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
# The LibTorch training program, briefly: every stage, the .dcz file and its reload.
if [ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ]; then
  build/consumer/lenet300_fashion_mnist --epochs 2 --retrain-epochs 1 --rounds 1 --finetune-epochs 1 \
    --train-limit 2000 --out build/consumer/lenet300.dcz | tail -n 1
else
  echo "lenet300_fashion_mnist not run: no Fashion-MNIST (apt-get install dataset-fashion-mnist)"
fi
echo "find_package(deepcomp) consumer: built and ran"
