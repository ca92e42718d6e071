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
