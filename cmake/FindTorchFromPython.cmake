# LibTorch is the torch wheel from PyPI: ask the Python that has torch where its CMake config is,
# unless the user already pointed CMAKE_PREFIX_PATH or Torch_DIR at a LibTorch.
if(NOT Torch_DIR)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_Interpreter_FOUND)
    execute_process(
      COMMAND "${Python3_EXECUTABLE}" -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
      OUTPUT_VARIABLE _torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE
      RESULT_VARIABLE _torch_rc ERROR_QUIET)
    if(_torch_rc EQUAL 0)
      list(APPEND CMAKE_PREFIX_PATH "${_torch_prefix}")
    endif()
  endif()
endif()

# Torch's CMake config enables CUDA itself when the wheel is a CUDA build. Pick the arch flags
# through TORCH_CUDA_ARCH_LIST (it ignores CMAKE_CUDA_ARCHITECTURES) so its probe needs no GPU.
if(NOT DEFINED TORCH_CUDA_ARCH_LIST AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(TORCH_CUDA_ARCH_LIST "9.0+PTX")
endif()
include(CheckLanguage)
check_language(CUDA)
