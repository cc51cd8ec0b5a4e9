# cmake --install: the C++ SDK of ferry, for projects that use it with
#   find_package(ferry CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE ferry::ferry)
# Headers go to include/ferry (included as "loader/data_loader.h", as in the
# tree), the component libraries to lib, ferry-worker (spawned workers) to
# bin, the CMake package to lib/cmake/ferry. All in the "sdk" component; the
# Python wheel installs only its own ("python").
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(FERRY_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/ferry)

# ferry::ferry: the public API (loader/) and everything under it.
add_library(ferry INTERFACE)
target_link_libraries(ferry INTERFACE ferry_loader)
add_library(ferry::ferry ALIAS ferry)

set(_ferry_sdk_targets ferry ferry_loader ferry_workers ferry_transforms ferry_trace ferry_base ferry_warnings)
if(FERRY_HAVE_CUDA)
  list(APPEND _ferry_sdk_targets ferry_cuda)
endif()
foreach(_t IN LISTS _ferry_sdk_targets)
  target_include_directories(${_t} INTERFACE $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}/ferry>)
endforeach()
install(TARGETS ${_ferry_sdk_targets} EXPORT ferryTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT sdk)
install(TARGETS ferry-worker RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT sdk)
install(DIRECTORY base trace workers transforms cuda loader
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/ferry COMPONENT sdk
        FILES_MATCHING PATTERN "*.h")
install(EXPORT ferryTargets NAMESPACE ferry:: DESTINATION ${FERRY_INSTALL_CMAKEDIR} COMPONENT sdk)

configure_package_config_file(cmake/ferryConfig.cmake.in ${CMAKE_BINARY_DIR}/ferryConfig.cmake
                              INSTALL_DESTINATION ${FERRY_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/ferryConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/ferryConfig.cmake ${CMAKE_BINARY_DIR}/ferryConfigVersion.cmake
        DESTINATION ${FERRY_INSTALL_CMAKEDIR} COMPONENT sdk)
