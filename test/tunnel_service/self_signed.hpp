#pragma once
// A throw-away CA and a server certificate for localhost/127.0.0.1/::1, made with OpenSSL.
#include <string>

namespace tunnel_service {

// Creates DIR/ca.pem, DIR/server.pem, DIR/server.key and the hashed directory DIR/ca/ (usable as
// `localproxy -c DIR/ca`) unless they exist. Throws std::runtime_error.
void ensure_self_signed(const std::string& dir);

}  // namespace tunnel_service
