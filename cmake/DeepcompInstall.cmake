# Installs libdeepcomp, its headers and a CMake package: find_package(deepcomp) then link
# deepcomp::deepcomp. The package finds the same LibTorch again (Torch_DIR is remembered as a hint).
include(CMakePackageConfigHelpers)
include(GNUInstallDirs)

install(TARGETS deepcomp EXPORT deepcompTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}/csrc/include/deepcomp"
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT deepcompTargets NAMESPACE deepcomp::
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/deepcomp)

configure_package_config_file(
  "${CMAKE_CURRENT_LIST_DIR}/deepcompConfig.cmake.in"
  "${CMAKE_CURRENT_BINARY_DIR}/deepcompConfig.cmake"
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/deepcomp)
write_basic_package_version_file(
  "${CMAKE_CURRENT_BINARY_DIR}/deepcompConfigVersion.cmake"
  COMPATIBILITY SameMinorVersion)
install(FILES
  "${CMAKE_CURRENT_BINARY_DIR}/deepcompConfig.cmake"
  "${CMAKE_CURRENT_BINARY_DIR}/deepcompConfigVersion.cmake"
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/deepcomp)

# The same package inside the Python package, so that a pip-installed deepcomp serves C++ users too
# (CMAKE_PREFIX_PATH=$(python -c 'import deepcomp; print(deepcomp.cmake_prefix_path)')): the headers in
# deepcomp/include, the CMake files in deepcomp/share/cmake/deepcomp, and the deepcomp/libdeepcomp.so
# that Python loads. setup.py installs this component into the package; `cmake --install` leaves it out.
if(DEEPCOMP_BUILD_PYTHON)
  install(TARGETS deepcomp EXPORT deepcompPythonTargets LIBRARY DESTINATION . COMPONENT python EXCLUDE_FROM_ALL)
  install(DIRECTORY "${CMAKE_CURRENT_SOURCE_DIR}/csrc/include/deepcomp" DESTINATION include
    COMPONENT python EXCLUDE_FROM_ALL)
  install(EXPORT deepcompPythonTargets NAMESPACE deepcomp:: FILE deepcompTargets.cmake
    DESTINATION share/cmake/deepcomp COMPONENT python EXCLUDE_FROM_ALL)
  install(FILES
    "${CMAKE_CURRENT_BINARY_DIR}/deepcompConfig.cmake"
    "${CMAKE_CURRENT_BINARY_DIR}/deepcompConfigVersion.cmake"
    DESTINATION share/cmake/deepcomp COMPONENT python EXCLUDE_FROM_ALL)
endif()
