"""Runs test code under each of the CPU kernels' SIMD variants: ATen's ATEN_CPU_CAPABILITY picks the
variant (csrc/ops/cpu/cpu_isa.h), in a fresh process since the choice is made once."""
import os
import subprocess
import sys
from pathlib import Path

import torch

CAPABILITIES = ["default", "avx2", "avx512"]


def expected_variant(capability: str) -> str:
    """The variant a capability selects here: a CPU without the instructions falls back to a narrower one."""
    native = torch.backends.cpu.get_cpu_capability()
    return {"default": "portable", "avx2": "avx2" if native in ("AVX2", "AVX512") else "portable",
            "avx512": {"AVX512": "avx512", "AVX2": "avx2"}.get(native, "portable")}[capability]


def run_under(capability: str, code: str) -> str:
    """code's stdout, run by this Python with the tests' folder as working directory."""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=Path(__file__).parent,
                          env={**os.environ, "ATEN_CPU_CAPABILITY": capability})
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout
