#include "localproxy/tunnel/service_manager.hpp"

#include <dlfcn.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

#include "localproxy/log/log.hpp"

namespace localproxy::tunnel::service_manager {
namespace {

// libsystemd is loaded only when the service manager talks to us (NOTIFY_SOCKET, WATCHDOG_USEC,
// LISTEN_FDS): mapped always, it and its dependencies would add about 1.2 MB to the resident
// size of every proxy, which the memory budget does not have to spare.
struct libsystemd {
  decltype(&sd_notify) notify = nullptr;
  decltype(&sd_watchdog_enabled) watchdog_enabled = nullptr;
  decltype(&sd_listen_fds_with_names) listen_fds_with_names = nullptr;
  decltype(&sd_is_socket) is_socket = nullptr;
};

template <typename F>
void bind(void* handle, const char* name, F& f) {
  f = reinterpret_cast<F>(::dlsym(handle, name));
}

const libsystemd* systemd_library() {
  static const libsystemd* loaded = []() -> const libsystemd* {
    void* handle = ::dlopen("libsystemd.so.0", RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      LP_LOG(warning) << "The service manager set NOTIFY_SOCKET, WATCHDOG_USEC or LISTEN_FDS, but libsystemd cannot "
                         "be loaded (" << ::dlerror() << "); install libsystemd0";
      return nullptr;
    }
    static libsystemd lib;
    bind(handle, "sd_notify", lib.notify);
    bind(handle, "sd_watchdog_enabled", lib.watchdog_enabled);
    bind(handle, "sd_listen_fds_with_names", lib.listen_fds_with_names);
    bind(handle, "sd_is_socket", lib.is_socket);
    if (!lib.notify || !lib.watchdog_enabled || !lib.listen_fds_with_names || !lib.is_socket) {
      LP_LOG(warning) << "libsystemd.so.0 lacks sd_notify, sd_watchdog_enabled, sd_listen_fds_with_names or sd_is_socket";
      return nullptr;
    }
    return &lib;
  }();
  return loaded;
}

bool set(const char* variable) {
  const char* value = std::getenv(variable);
  return value != nullptr && *value != '\0';
}

// A STATUS= value is one line; secrets are scrubbed as in the log.
std::string status_field(std::string_view status) {
  auto text = log::redact(std::string(status));
  for (auto& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  return "STATUS=" + text;
}

void send(const std::string& state) {
  const auto* lib = systemd_library();
  if (lib == nullptr) return;
  // unset_environment = 0: every later notification needs NOTIFY_SOCKET too.
  if (const int r = lib->notify(0, state.c_str()); r < 0) LP_LOG(debug) << "sd_notify failed: " << std::strerror(-r);
}

bool notifying() { return set("NOTIFY_SOCKET"); }

}  // namespace

void notify_ready(std::string_view status) {
  if (notifying()) send("READY=1\n" + status_field(status));
}

void notify_status(std::string_view status) {
  if (notifying()) send(status_field(status));
}

void notify_stopping() {
  if (notifying()) send("STOPPING=1");
}

void notify_reloading() {
  if (!notifying()) return;
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  const auto usec = static_cast<std::uint64_t>(now.tv_sec) * 1'000'000u + static_cast<std::uint64_t>(now.tv_nsec) / 1000u;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec));
}

void notify_watchdog() {
  if (notifying()) send("WATCHDOG=1");
}

std::optional<std::chrono::microseconds> watchdog_period() {
  if (!set("WATCHDOG_USEC")) return std::nullopt;
  const auto* lib = systemd_library();
  std::uint64_t usec = 0;
  if (lib == nullptr || lib->watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec / 2);
}

std::vector<inherited_listener> take_listeners() {
  if (!set("LISTEN_FDS")) return {};
  const auto* lib = systemd_library();
  if (lib == nullptr) throw std::runtime_error("socket activation: LISTEN_FDS is set but libsystemd cannot be loaded");
  char** names = nullptr;
  const int n = lib->listen_fds_with_names(1, &names);
  if (n < 0) throw std::runtime_error(std::string("socket activation: bad LISTEN_FDS: ") + std::strerror(-n));
  std::vector<inherited_listener> out;
  for (int i = 0; i < n; ++i) {
    const int fd = SD_LISTEN_FDS_START + i;
    std::string name = names && names[i] ? names[i] : "";
    out.push_back({fd, name});
  }
  if (names) {
    for (int i = 0; i < n; ++i) std::free(names[i]);
    std::free(names);
  }
  for (const auto& l : out) {
    const bool stream = lib->is_socket(l.fd, AF_INET, SOCK_STREAM, 1) > 0 || lib->is_socket(l.fd, AF_INET6, SOCK_STREAM, 1) > 0 ||
                        lib->is_socket(l.fd, AF_UNIX, SOCK_STREAM, 1) > 0;
    if (!stream)
      throw std::runtime_error("socket activation: fd " + std::to_string(l.fd) + " (" + l.name +
                               ") is not a listening TCP or Unix stream socket (use ListenStream= with a port, "
                               "address:port or path)");
  }
  return out;
}

}  // namespace localproxy::tunnel::service_manager
