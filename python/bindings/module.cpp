// deepcomp._C: importing it loads libdeepcomp, whose static initialisers register the ops with
// the dispatcher (torch.ops.deepcomp.*). Ops take their tensors through the dispatcher; this module
// carries the rest: the .dcz file functions and reports, and the torch-free codec.
#include "bindings.h"

#include <deepcomp/ops.h>

PYBIND11_MODULE(_C, m) {
  m.doc() = "deepcomp's native library: registers the deepcomp ops; file I/O and the codec";
  m.def("built_with_cuda", &deepcomp::ops::built_with_cuda, "True when libdeepcomp has its CUDA kernels");
  deepcomp::bindings::bind_codec(m);
  deepcomp::bindings::bind_io(m);
  deepcomp::bindings::bind_pipeline(m);
}
