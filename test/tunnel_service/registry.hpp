#pragma once
// Tunnels, their tokens and their two sides: the service's state, with no I/O.
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "localproxy/protocol/rules.hpp"
#include "peer.hpp"

namespace tunnel_service {

using role = localproxy::protocol::endpoint_role;
[[nodiscard]] inline const char* role_name(role r) { return r == role::source ? "source" : "destination"; }
[[nodiscard]] inline role other(role r) { return r == role::source ? role::destination : role::source; }

struct side {
  std::string token;
  std::string client_token;  // bound by the first connect that presented one
  bool used = false;
  std::shared_ptr<peer> connection;
  std::string subprotocol;
  std::uint64_t bytes = 0;
  std::uint64_t frames = 0;
  bool frozen = false;  // fault injection: not read, so it gets no pongs either
};

struct tunnel {
  std::string id;
  std::vector<std::string> services;
  side source;
  side destination;
  bool closed = false;
  bool reframe = false;
  // As the recorded AWS service does (../shared/reference-wire): whenever a side connects, every
  // stream on record is reset at the other side. Off: only when a side replaces a live connection.
  bool reset_on_connect = false;
  std::map<std::string, std::int32_t> streams;  // service ("" when none) -> active stream
  double bucket = 0;                            // bandwidth tokens, in bytes
  std::chrono::steady_clock::time_point refilled = std::chrono::steady_clock::now();

  side& of(role r) { return r == role::source ? source : destination; }
  [[nodiscard]] bool knows(std::string_view service) const;
};

class registry {
 public:
  registry();
  std::shared_ptr<tunnel> open(std::vector<std::string> services, std::string id = {}, std::string source_token = {},
                               std::string destination_token = {});
  [[nodiscard]] std::shared_ptr<tunnel> find(const std::string& id) const;
  // The tunnel and side an access token belongs to (nullptr when unknown).
  [[nodiscard]] std::pair<std::shared_ptr<tunnel>, role> by_token(const std::string& token) const;
  void rotate(tunnel& t);
  [[nodiscard]] const std::map<std::string, std::shared_ptr<tunnel>>& all() const { return tunnels_; }
  [[nodiscard]] std::string random_text(std::size_t length, bool hex_only);
  [[nodiscard]] std::size_t random_size(std::size_t max) { return std::uniform_int_distribution<std::size_t>(1, max)(rng_); }

 private:
  std::map<std::string, std::shared_ptr<tunnel>> tunnels_;
  std::mt19937_64 rng_;
};

}  // namespace tunnel_service
