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
