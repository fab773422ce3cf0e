# Installs the headers and a package config, so that another project can
#   find_package(bulkmap CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE bulkmap::bulkmap)
include(CMakePackageConfigHelpers)

install(DIRECTORY include/bulkmap kernels/bulkmap DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS bulkmap EXPORT bulkmap-targets)
install(EXPORT bulkmap-targets NAMESPACE bulkmap:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/bulkmap)

set(BULKMAP_INSTALLED_BACKEND ${BULKMAP_BACKEND_RESOLVED})
configure_package_config_file(cmake/bulkmap-config.cmake.in
  "${CMAKE_CURRENT_BINARY_DIR}/bulkmap-config.cmake"
  INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/bulkmap)
write_basic_package_version_file("${CMAKE_CURRENT_BINARY_DIR}/bulkmap-config-version.cmake"
  COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES "${CMAKE_CURRENT_BINARY_DIR}/bulkmap-config.cmake"
              "${CMAKE_CURRENT_BINARY_DIR}/bulkmap-config-version.cmake"
              cmake/bulkmap_backend.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/bulkmap)
