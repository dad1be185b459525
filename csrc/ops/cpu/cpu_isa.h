// Which SIMD instruction set deepcomp's CPU kernels use: the widest that ATen uses on this machine
// (ATEN_CPU_CAPABILITY overrides it, as for ATen's own kernels) among those the CPU has. Kernels
// compile their variants with target attributes and choose one at their first call.
#pragma once

namespace deepcomp::ops {

enum class CpuIsa { kPortable, kAvx2, kAvx512 };

CpuIsa cpu_isa();

// "avx512", "avx2" or "portable".
const char* cpu_isa_name(CpuIsa isa);

}  // namespace deepcomp::ops
