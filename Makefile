# The two commands of a fresh machine: `make demo` and `make test` (each does all set-up first).
PYTHON := .venv/bin/python

.PHONY: setup install demo lenet5 test test-cpp test-package test-python test-cpu-only fuzz bench

setup:
	scripts/setup.sh

# libdeepcomp, its headers and its CMake package under PREFIX, for C++ programs:
# cmake -DCMAKE_PREFIX_PATH=$(PREFIX) ..., then find_package(deepcomp) and link deepcomp::deepcomp.
PREFIX ?= /usr/local
install: setup
	cmake --install build/cmake --prefix $(PREFIX)

# The main job: LeNet-300-100 on Fashion-MNIST, trained dense, pruned iteratively with retraining,
# quantized to 5-bit codebooks with centroid fine-tuning, Huffman-coded into a .dcz file and reloaded.
demo: setup
	$(PYTHON) examples/lenet/lenet300.py

# The paper's LeNet-5 (Table 3) the same way: 15-30 minutes on a 2-core CPU.
lenet5: setup
	$(PYTHON) examples/lenet/lenet5.py

test: setup
	$(MAKE) --no-print-directory test-cpp test-package test-python

test-cpp:
	ctest --test-dir build/cmake --output-on-failure -j 2

# The installed CMake package, used the way a C++ user does: find_package(deepcomp); then every
# ```cpp block of docs/ is built against it and run.
test-package:
	tests/cmake/test_find_package.sh
	$(PYTHON) tests/cmake/test_doc_cpp_blocks.py

test-python:
	$(PYTHON) -m pytest -q -n auto --maxschedchunk 1 --durations=15 tests/python

# A build without CUDA kernels (DEEPCOMP_FORCE_CPU) must build and pass the C++ CPU tests too (the
# examples, the same in both builds, are built once, by setup).
test-cpu-only: setup
	cmake -S . -B build/cmake-cpu -DDEEPCOMP_FORCE_CPU=ON -DDEEPCOMP_BUILD_EXAMPLES=OFF -DPython3_EXECUTABLE=$(CURDIR)/$(PYTHON)
	cmake --build build/cmake-cpu -j 2
	ctest --test-dir build/cmake-cpu --output-on-failure -j 2

# libFuzzer, ASan and UBSan on the .dcz decoder (docs/fuzzing.md); clang comes with `make setup`.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run_fuzz.sh

bench: setup
	$(PYTHON) benchmarks/bench_pruning.py
	$(PYTHON) -m pip install -q -r benchmarks/requirements.txt
	$(PYTHON) benchmarks/bench_quantization.py
	$(PYTHON) benchmarks/bench_huffman.py
	$(PYTHON) benchmarks/bench_kernels.py
