// Which SIMD instruction set deepcomp's CPU kernels use: the widest that ATen uses on this machine
// (ATEN_CPU_CAPABILITY overrides it, as for ATen's own kernels) among those the CPU has. Kernels
// compile their variants with target attributes and choose one at their first call.
#pragma once

#if defined(__x86_64__)
// The variants' intrinsics. GCC 12 warns inside its own AVX-512 headers (their _mm512_undefined_*
// placeholders) wherever they are inlined, so the files that include them leave that warning off.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#endif

namespace deepcomp::ops {

enum class CpuIsa { kPortable, kAvx2, kAvx512 };

CpuIsa cpu_isa();

// "avx512", "avx2" or "portable".
const char* cpu_isa_name(CpuIsa isa);

}  // namespace deepcomp::ops
