# Compiler flags for the project's own targets: warnings as errors, sanitizers.
add_library(ferry_warnings INTERFACE)
target_compile_options(ferry_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Werror -Wno-missing-field-initializers>)
# GCC 12 reports -Wrestrict on `"literal" + std::string` at -O2 and above, a
# false positive in libstdc++ (GCC bug 105329).
if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU" AND CMAKE_CXX_COMPILER_VERSION VERSION_LESS 13)
  target_compile_options(ferry_warnings INTERFACE $<$<COMPILE_LANGUAGE:CXX>:-Wno-restrict>)
endif()

if(FERRY_SANITIZE)
  string(REPLACE "," ";" _ferry_sanitizers "${FERRY_SANITIZE}")
  foreach(_s IN LISTS _ferry_sanitizers)
    if(NOT _s MATCHES "^(address|undefined|thread|leak)$")
      message(FATAL_ERROR "FERRY_SANITIZE: unknown sanitizer '${_s}' (use address,undefined or thread)")
    endif()
  endforeach()
  message(STATUS "ferry: sanitizers ${FERRY_SANITIZE}")
  add_compile_options(-fsanitize=${FERRY_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all -O1 -g)
  add_link_options(-fsanitize=${FERRY_SANITIZE})
endif()

# ferry_library(NAME SOURCES... [DEPS ...]) adds one component library.
function(ferry_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS;PRIVATE_DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE ferry_warnings ${ARG_PRIVATE_DEPS})
endfunction()
