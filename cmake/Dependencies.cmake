# Every dependency comes from Debian 12 packages (scripts/install-deps.sh); nothing is downloaded.
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
if(LOCALPROXY_STATIC_LIBS)  # the static archives come with the same -dev packages
  set(Protobuf_USE_STATIC_LIBS ON)
  set(Boost_USE_STATIC_LIBS ON)
endif()
find_package(Protobuf REQUIRED)
find_package(Boost 1.81 REQUIRED CONFIG COMPONENTS program_options log log_setup)

# Asio, Beast and JSON are compiled once (lp_boost_impl) instead of in every translation unit.
add_library(lp_boost INTERFACE)
target_compile_definitions(lp_boost INTERFACE
  BOOST_ASIO_SEPARATE_COMPILATION
  BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_JSON_NO_LIB
  BOOST_ASIO_NO_DEPRECATED)
target_link_libraries(lp_boost INTERFACE Boost::headers OpenSSL::SSL OpenSSL::Crypto Threads::Threads)

# sd_notify and socket activation: libsystemd-dev's header at build time; the library itself is
# loaded (dlopen) only under a service manager, see src/tunnel/service_manager.cpp.
find_package(PkgConfig REQUIRED)
pkg_check_modules(LIBSYSTEMD REQUIRED libsystemd)

# The metrics endpoint's registry and exposition format (prometheus-cpp-dev; only its core).
find_package(prometheus-cpp REQUIRED CONFIG)
