# Warnings and hardening applied to every target of ours through localproxy_harden().
include(CheckPIESupported)
check_pie_supported()
set(CMAKE_POSITION_INDEPENDENT_CODE ON)

add_library(localproxy_flags INTERFACE)
target_compile_options(localproxy_flags INTERFACE
  -Wall -Wextra -Wpedantic
  # GCC 12 reports Asio's recycling allocator under coroutines as a new/free mismatch (a false
  # positive: the memory comes from and returns to the same aligned allocation functions).
  -Wno-mismatched-new-delete
  -fstack-protector-strong
  $<$<NOT:$<CONFIG:Debug>>:-D_FORTIFY_SOURCE=2>)
if(LOCALPROXY_WERROR)
  target_compile_options(localproxy_flags INTERFACE -Werror)
endif()
target_link_options(localproxy_flags INTERFACE -Wl,-z,relro,-z,now)

# Code layout: every function in a section of its own, so that the localproxy link can place the
# functions a running tunnel executes together (cmake/hot-text.ld, see src/CMakeLists.txt).
option(LOCALPROXY_HOT_TEXT "Link the functions a running tunnel executes together (cmake/hot-text.ld)" ON)
if(LOCALPROXY_HOT_TEXT)
  add_compile_options(-ffunction-sections)
endif()

# Sanitizer and fuzzing builds. Both apply to every target (generated protobuf code and the
# compiled Boost parts included), so they are directory-wide options rather than localproxy_flags.
set(LOCALPROXY_SANITIZE "" CACHE STRING
    "Comma-separated -fsanitize= list for every target, e.g. address,undefined (empty: none)")
option(LOCALPROXY_FUZZ "Build the libFuzzer targets in test/fuzz (clang only; implies address,undefined)" OFF)

if(LOCALPROXY_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "LOCALPROXY_FUZZ needs clang (libFuzzer): configure with CC=clang-14 CXX=clang++-14")
  endif()
  if(NOT LOCALPROXY_BUILD_TESTS)
    message(FATAL_ERROR "LOCALPROXY_FUZZ needs LOCALPROXY_BUILD_TESTS (the targets live in test/fuzz)")
  endif()
  if(LOCALPROXY_SANITIZE STREQUAL "")
    set(LOCALPROXY_SANITIZE "address,undefined" CACHE STRING
        "Comma-separated -fsanitize= list for every target, e.g. address,undefined (empty: none)" FORCE)
  endif()
  # Coverage instrumentation everywhere; only the fuzz targets link libFuzzer (-fsanitize=fuzzer).
  add_compile_options(-fsanitize=fuzzer-no-link)
  # Keep assert() and BOOST_ASSERT live whatever the build type: a fuzzer should trip them.
  add_compile_options(-UNDEBUG)
endif()

if(NOT LOCALPROXY_SANITIZE STREQUAL "")
  if(NOT LOCALPROXY_SANITIZE MATCHES "^[a-z,-]+$")
    message(FATAL_ERROR "LOCALPROXY_SANITIZE: expected a list such as address,undefined, got '${LOCALPROXY_SANITIZE}'")
  endif()
  message(STATUS "Sanitizers: ${LOCALPROXY_SANITIZE}")
  # halt_on_error in the environment makes ASan stop; -fno-sanitize-recover makes UBSan stop too.
  add_compile_options(-fsanitize=${LOCALPROXY_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${LOCALPROXY_SANITIZE})
  if(CMAKE_CXX_COMPILER_ID MATCHES "Clang" AND LOCALPROXY_SANITIZE MATCHES "undefined")
    # clang 14's -fsanitize=function puts prologue data in front of the split coroutine functions,
    # which the assembler rejects ("Cannot represent a difference across sections").
    add_compile_options(-fno-sanitize=function)
  endif()
endif()
