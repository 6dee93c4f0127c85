# The C API: libondo.so built from c_api.cc over the static runtime (only ondo_* symbols are
# exported), and the install rules: the library, include/ondo.h, a CMake package
# (find_package(ondo) -> ondo::ondo) and lib/pkgconfig/ondo.pc.
# Included from runtime/CMakeLists.txt after ondo_runtime is defined.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Chat templates and prompt preparation are shared by the CLI and the C API.
target_sources(ondo_runtime PRIVATE ${CMAKE_CURRENT_LIST_DIR}/chat_template.cc)

add_library(ondo SHARED ${CMAKE_CURRENT_LIST_DIR}/c_api.cc)
add_library(ondo::ondo ALIAS ondo)
target_include_directories(ondo PUBLIC
  $<BUILD_INTERFACE:${CMAKE_CURRENT_LIST_DIR}/include>
  $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>)
target_link_libraries(ondo PRIVATE ondo_runtime ondo_korean_post)  # runtime -> tokenizer/korean
target_compile_definitions(ondo PRIVATE
  ONDO_BUILDING_LIBRARY
  ONDO_VERSION_STRING="${PROJECT_VERSION}")
# Export ondo_* and nothing else: the static archives' symbols and the "unique" template
# statics of libstdc++ headers (which -fvisibility=hidden leaves global) stay local.
file(CONFIGURE OUTPUT ${CMAKE_CURRENT_BINARY_DIR}/ondo.map
  CONTENT "{\n  global: ondo_*;\n  local: *;\n};\n")
target_link_options(ondo PRIVATE -Wl,--exclude-libs,ALL
  -Wl,--version-script=${CMAKE_CURRENT_BINARY_DIR}/ondo.map)
set_property(TARGET ondo APPEND PROPERTY LINK_DEPENDS ${CMAKE_CURRENT_BINARY_DIR}/ondo.map)
if(NOT ONDO_SANITIZE AND NOT ONDO_FUZZ)
  target_link_options(ondo PRIVATE -Wl,--no-undefined)
endif()
set_target_properties(ondo PROPERTIES
  VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}
  PUBLIC_HEADER ${CMAKE_CURRENT_LIST_DIR}/include/ondo.h)

# libondo.a: the C API and every internal library under it in one archive, for firmware that
# links statically. What it needs at link time besides libc: libstdc++, libzstd, libz
# (-lzstd -lz -lstdc++ -lm -lpthread; all of them have static archives in Debian). {fmt} is
# compiled in (platform/fmt_impl.cc). Symbols are not hidden in an archive: the internal ones
# are in namespace ondo, the C API is ondo_*.
add_library(ondo_capi_static STATIC ${CMAKE_CURRENT_LIST_DIR}/c_api.cc)
target_include_directories(ondo_capi_static PUBLIC
  $<BUILD_INTERFACE:${CMAKE_CURRENT_LIST_DIR}/include>)
target_link_libraries(ondo_capi_static PRIVATE ondo_runtime ondo_korean_post)
target_compile_definitions(ondo_capi_static PRIVATE
  ONDO_BUILDING_LIBRARY
  ONDO_VERSION_STRING="${PROJECT_VERSION}")
set(ONDO_STATIC_PARTS ondo_capi_static ondo_runtime ondo_korean_post ondo_korean ondo_tokenizer
  ondo_memory ondo_kernels ondo_platform)
set(ONDO_STATIC_INPUTS "")
foreach(part IN LISTS ONDO_STATIC_PARTS)
  list(APPEND ONDO_STATIC_INPUTS $<TARGET_FILE:${part}>)
endforeach()
set(ONDO_STATIC_LIBRARY ${CMAKE_ARCHIVE_OUTPUT_DIRECTORY}/libondo.a)
add_custom_command(OUTPUT ${ONDO_STATIC_LIBRARY}
  COMMAND ${CMAKE_COMMAND} -DAR=${CMAKE_AR} -DOUTPUT=${ONDO_STATIC_LIBRARY}
    "-DINPUTS=${ONDO_STATIC_INPUTS}" -P ${PROJECT_SOURCE_DIR}/cmake/combine_archives.cmake
  DEPENDS ${ONDO_STATIC_PARTS} ${PROJECT_SOURCE_DIR}/cmake/combine_archives.cmake
  COMMENT "Combining ondo's static libraries into libondo.a"
  VERBATIM)
add_custom_target(ondo_static ALL DEPENDS ${ONDO_STATIC_LIBRARY})
# ondo::static: what a program of this build links to use libondo.a (examples/CMakeLists.txt).
add_library(ondo_static_interface INTERFACE)
add_library(ondo::static ALIAS ondo_static_interface)
add_dependencies(ondo_static_interface ondo_static)
target_include_directories(ondo_static_interface INTERFACE ${CMAKE_CURRENT_LIST_DIR}/include)
target_link_libraries(ondo_static_interface INTERFACE ${ONDO_STATIC_LIBRARY} zstd z pthread m)
install(FILES ${ONDO_STATIC_LIBRARY} DESTINATION ${CMAKE_INSTALL_LIBDIR})

set(ONDO_CMAKE_INSTALL_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/ondo)
install(TARGETS ondo EXPORT ondoTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  PUBLIC_HEADER DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT ondoTargets NAMESPACE ondo:: DESTINATION ${ONDO_CMAKE_INSTALL_DIR})
# Where examples/CMakeLists.txt installs the demo model (ondo_DEMO_MODEL in the package).
set(ONDO_DEMO_MODEL_INSTALL ${CMAKE_INSTALL_DATADIR}/ondo/ondo-demo-ko.ondo)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/ondoConfig.cmake.in
  ${CMAKE_CURRENT_BINARY_DIR}/ondoConfig.cmake
  INSTALL_DESTINATION ${ONDO_CMAKE_INSTALL_DIR}
  PATH_VARS ONDO_DEMO_MODEL_INSTALL)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/ondoConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES
  ${CMAKE_CURRENT_BINARY_DIR}/ondoConfig.cmake
  ${CMAKE_CURRENT_BINARY_DIR}/ondoConfigVersion.cmake
  DESTINATION ${ONDO_CMAKE_INSTALL_DIR})

# ondo.pc finds its prefix from its own location (${pcfiledir}), so `cmake --install --prefix P`
# gives a working file wherever P is.
if(IS_ABSOLUTE "${CMAKE_INSTALL_LIBDIR}")
  set(ONDO_PC_PREFIX "${CMAKE_INSTALL_PREFIX}")
  set(ONDO_PC_LIBDIR "${CMAKE_INSTALL_LIBDIR}")
else()
  file(RELATIVE_PATH ONDO_PC_UP "/ondo-root/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/ondo-root")
  set(ONDO_PC_PREFIX "\${pcfiledir}/${ONDO_PC_UP}")
  set(ONDO_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_INCLUDEDIR}")
  set(ONDO_PC_INCLUDEDIR "${CMAKE_INSTALL_INCLUDEDIR}")
else()
  set(ONDO_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
endif()
if(IS_ABSOLUTE "${CMAKE_INSTALL_DATADIR}")
  set(ONDO_PC_DEMO_MODEL "${ONDO_DEMO_MODEL_INSTALL}")
else()
  set(ONDO_PC_DEMO_MODEL "\${prefix}/${ONDO_DEMO_MODEL_INSTALL}")
endif()
configure_file(${PROJECT_SOURCE_DIR}/cmake/ondo.pc.in ${CMAKE_CURRENT_BINARY_DIR}/ondo.pc @ONLY)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/ondo.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
