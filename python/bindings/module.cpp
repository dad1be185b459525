// deepcomp._C: importing it loads libdeepcomp, whose static initialisers register the ops with
// the dispatcher (torch.ops.deepcomp.*). Tensors travel through the dispatcher, not pybind11;
// this module carries what is not a tensor.
#include <deepcomp/ops.h>

#include <pybind11/pybind11.h>

PYBIND11_MODULE(_C, m) {
  m.doc() = "deepcomp's native library: registers the deepcomp ops and reports how it was built";
  m.def("built_with_cuda", &deepcomp::ops::built_with_cuda, "True when libdeepcomp has its CUDA kernels");
}
