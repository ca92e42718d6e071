#pragma once
// tunnel-service's command line.
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tunnel_service {

struct tunnel_spec {
  std::string id, source_token, destination_token;
  std::vector<std::string> services;
};

struct service_options {
  std::string listen_host = "127.0.0.1";
  unsigned short listen_port = 8443;
  std::string tls_cert, tls_key, self_signed_dir;
  bool plain = false;
  std::optional<std::pair<std::string, unsigned short>> api;
  std::vector<tunnel_spec> tunnels;
  double bandwidth = 0;
  int receive_buffer = 0;  // SO_RCVBUF of every proxy's connection, in bytes; 0: the kernel's autotuning
  int verbosity = 4;
  bool help = false;
  bool version = false;
};

struct usage_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[nodiscard]] service_options parse_service_options(int argc, const char* const argv[]);
[[nodiscard]] const char* service_usage();

}  // namespace tunnel_service
