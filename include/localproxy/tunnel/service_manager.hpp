#pragma once
// What the service manager (systemd) is told and hands over: readiness, status, watchdog pings
// and stopping through sd_notify, and socket-activated listeners. Every call is a no-op when
// the process was not started that way (no NOTIFY_SOCKET, no LISTEN_FDS); libsystemd is loaded
// on first use only.
#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace localproxy::tunnel::service_manager {

void notify_ready(std::string_view status);
void notify_status(std::string_view status);
void notify_stopping();
// RELOADING=1 with MONOTONIC_USEC= (systemd 253 and later want both); notify_ready ends it.
void notify_reloading();
void notify_watchdog();

// How often to send WATCHDOG=1: half of WATCHDOG_USEC when it is set for this process.
[[nodiscard]] std::optional<std::chrono::microseconds> watchdog_period();

// A listening socket passed by socket activation, named by the unit's FileDescriptorName=.
struct inherited_listener {
  int fd = -1;
  std::string name;
};
// Takes the sockets in LISTEN_FDS (removing the variables, so nothing is taken twice). Throws
// std::runtime_error when they are malformed or one is not a listening TCP or Unix stream socket.
[[nodiscard]] std::vector<inherited_listener> take_listeners();

}  // namespace localproxy::tunnel::service_manager
