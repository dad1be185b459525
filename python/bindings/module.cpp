// deepcomp._C: importing it loads libdeepcomp, whose static initialisers register the ops with
// the dispatcher (torch.ops.deepcomp.*). Ops take their tensors through the dispatcher; this module
// carries the rest: the .dcz file functions and reports, and the torch-free codec.
#include "bindings.h"

#include <deepcomp/ops.h>

PYBIND11_MODULE(_C, m) {
  m.doc() = "deepcomp's native library: registers the deepcomp ops; file I/O and the codec";
  m.def("built_with_cuda", &deepcomp::ops::built_with_cuda, "True when libdeepcomp has its CUDA kernels");
  m.def("cpu_kernels_parallel", &deepcomp::ops::cpu_kernels_parallel,
        "True when deepcomp's CPU kernels split their work over torch's intra-op threads");
  m.def("compressed_linear_cpu_isa", &deepcomp::ops::compressed_linear_cpu_isa,
        "The SIMD variant of the CPU compressed_linear kernel chosen here: avx512, avx2 or portable");
  deepcomp::bindings::bind_codec(m);
  deepcomp::bindings::bind_io(m);
  deepcomp::bindings::bind_pipeline(m);
}
