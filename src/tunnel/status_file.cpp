#include "localproxy/tunnel/status_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>

#include <boost/json.hpp>

namespace localproxy::tunnel {
namespace json = boost::json;
using namespace std::chrono;

namespace {

std::string iso_utc(system_clock::time_point t) {
  const auto seconds = system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

std::int64_t unix_ms(system_clock::time_point t) { return duration_cast<milliseconds>(t.time_since_epoch()).count(); }

bool write_all(int fd, const std::string& data) {
  std::size_t done = 0;
  while (done < data.size()) {
    const auto n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}

}  // namespace

const char* state_name(tunnel_state s) noexcept {
  switch (s) {
    case tunnel_state::starting: return "starting";
    case tunnel_state::connecting: return "connecting";
    case tunnel_state::connected: return "connected";
    case tunnel_state::reconnecting: return "reconnecting";
    case tunnel_state::stopped: return "stopped";
  }
  return "unknown";
}

std::string status_json(const status_snapshot& s) {
  json::object services;
  for (const auto& [id, count] : s.connections) services[id.empty() ? "(unnamed)" : id] = count;
  json::object o;
  o["state"] = state_name(s.state);
  o["since"] = iso_utc(s.since);
  o["updated"] = iso_utc(s.updated);
  o["updated_unix_ms"] = unix_ms(s.updated);
  o["period_ms"] = s.period.count();
  o["pid"] = static_cast<std::int64_t>(::getpid());
  o["mode"] = s.mode;
  o["channel_id"] = s.channel_id;
  if (s.rtt) o["rtt_ms"] = static_cast<double>(s.rtt->count()) / 1000.0;
  else o["rtt_ms"] = nullptr;
  o["connections"] = std::move(services);
  o["bytes_from_service"] = s.bytes_from_service;
  o["bytes_to_service"] = s.bytes_to_service;
  o["last_error"] = s.last_error;
  return json::serialize(o) + "\n";
}

std::string write_status_file(const std::string& path, const status_snapshot& s) {
  const auto temporary = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return "cannot create " + temporary + ": " + std::strerror(errno);
  const bool written = write_all(fd, status_json(s));
  const int saved = errno;
  ::close(fd);
  if (!written) {
    ::unlink(temporary.c_str());
    return "cannot write " + temporary + ": " + std::strerror(saved);
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    const auto error = std::string(std::strerror(errno));
    ::unlink(temporary.c_str());
    return "cannot rename " + temporary + " to " + path + ": " + error;
  }
  return {};
}

health_verdict check_health(const std::string& path, std::optional<seconds> max_age, system_clock::time_point now) {
  std::ifstream in(path);
  if (!in) return {false, path + ": cannot read (" + std::strerror(errno) + ")"};
  std::stringstream text;
  text << in.rdbuf();
  boost::system::error_code ec;
  const auto doc = json::parse(text.str(), ec);
  if (ec || !doc.is_object()) return {false, path + ": not a status file (bad JSON)"};
  const auto& o = doc.as_object();
  const auto* state = o.if_contains("state");
  const auto* updated = o.if_contains("updated_unix_ms");
  const auto* period = o.if_contains("period_ms");
  if (!state || !state->is_string() || !updated || !updated->is_number() || !period || !period->is_number())
    return {false, path + ": not a status file (state, updated_unix_ms or period_ms missing)"};
  const auto age = static_cast<double>(unix_ms(now) - updated->to_number<std::int64_t>()) / 1000.0;
  const double limit = max_age ? static_cast<double>(max_age->count()) : 3.0 * period->to_number<double>() / 1000.0;
  std::ostringstream why;
  why.precision(3);
  if (state->as_string() != "connected") {
    why << "state " << state->as_string().c_str();
    return {false, why.str()};
  }
  if (age > limit) {
    why << "stale: updated " << age << " s ago (limit " << limit << " s)";
    return {false, why.str()};
  }
  why << "connected, updated " << age << " s ago";
  return {true, why.str()};
}

}  // namespace localproxy::tunnel
