# The one list of deepcomp's sources, read by CMakeLists.txt (and so by setup.py, which drives it).
set(_root "${CMAKE_CURRENT_LIST_DIR}/..")
file(GLOB DEEPCOMP_CPU_SOURCES CONFIGURE_DEPENDS
  "${_root}/csrc/algorithms/*.cpp"
  "${_root}/csrc/ops/*.cpp"
  "${_root}/csrc/ops/cpu/*.cpp"
  "${_root}/csrc/ops/composite/*.cpp"
  "${_root}/csrc/ops/autograd/*.cpp"
  "${_root}/csrc/nn/*.cpp"
  "${_root}/csrc/pipeline/*.cpp")
# The torch-free codec (Huffman, sparse layout, .dcz container): a library of its own, fuzzable alone.
file(GLOB DEEPCOMP_CODEC_SOURCES CONFIGURE_DEPENDS "${_root}/csrc/codec/*.cpp")
file(GLOB DEEPCOMP_CUDA_SOURCES CONFIGURE_DEPENDS "${_root}/cuda/*.cu")
