#pragma once
// TLS client settings shared by the service and an https web proxy: TLS 1.2 or newer, the system
// CA store plus an optional hashed directory, and host-name verification with SNI.
#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include "localproxy/transport/websocket.hpp"

namespace localproxy::transport {

// The client context for these settings, made (and the CA store read) on the first call only;
// later calls with the same settings return the same context.
[[nodiscard]] std::shared_ptr<boost::asio::ssl::context> shared_tls_context(const tls_options& options);

// SNI (not for IP literals) and the verification of `host` for one TLS stream's native handle.
boost::system::error_code prepare_tls_client(SSL* ssl, const std::string& host, bool verify);

// True when a TLS handshake failed because the peer's certificate was not verified.
[[nodiscard]] bool is_certificate_failure(const boost::system::error_code& ec);

// The text of the last OpenSSL errors, or of ec, for a one-line failure message.
[[nodiscard]] std::string tls_error_text(const boost::system::error_code& ec);

}  // namespace localproxy::transport
