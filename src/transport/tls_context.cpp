#include "tls_context.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <utility>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>

#include "localproxy/log/log.hpp"

namespace localproxy::transport {

namespace ssl = boost::asio::ssl;

namespace {

// Whether dir holds certificates under OpenSSL's hashed names (HHHHHHHH.N), as Debian's
// /etc/ssl/certs does.
bool hashed_directory(const char* dir) {
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.size() >= 10 && name[8] == '.' &&
        std::all_of(name.begin(), name.begin() + 8, [](char c) { return std::isxdigit(static_cast<unsigned char>(c)); }))
      return true;
  }
  return false;
}

// The system's CA certificates. From a hashed directory OpenSSL reads only the certificates a
// handshake needs; the bundle file would be parsed whole, about 1.2 MiB of heap for some 140
// certificates of which one is used. So: the directory when it is a hashed one and no bundle
// file is named in SSL_CERT_FILE; OpenSSL's default file and directory otherwise.
void load_system_store(ssl::context& ctx) {
  const char* dir = std::getenv(X509_get_default_cert_dir_env());
  if (!dir) dir = X509_get_default_cert_dir();
  if (!std::getenv(X509_get_default_cert_file_env()) && hashed_directory(dir) &&
      SSL_CTX_load_verify_dir(ctx.native_handle(), dir) == 1)
    return;
  boost::system::error_code ec;
  ctx.set_default_verify_paths(ec);
  if (ec) LP_LOG(warning) << "Cannot load the system CA store: " << ec.message();
}

std::shared_ptr<ssl::context> load_tls_context(const tls_options& options) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  load_system_store(*ctx);
  if (!options.capath.empty() &&
      SSL_CTX_load_verify_locations(ctx->native_handle(), nullptr, options.capath.c_str()) != 1)
    LP_LOG(warning) << "Cannot use CA directory " << options.capath;
  ctx->set_verify_mode(options.verify ? ssl::verify_peer : ssl::verify_none);
  return ctx;
}

}  // namespace

std::shared_ptr<ssl::context> shared_tls_context(const tls_options& options) {
  // One per distinct settings for the life of the process (a proxy has one, a test a few): the
  // store is not read again on each reconnect. Nothing changes a context once it is made; each
  // stream's SNI and name check are set on its own SSL (prepare_tls_client).
  static std::mutex mutex;
  static std::map<std::pair<bool, std::string>, std::shared_ptr<ssl::context>> contexts;
  const std::lock_guard lock(mutex);
  auto& ctx = contexts[{options.verify, options.capath}];
  if (!ctx) ctx = load_tls_context(options);
  return ctx;
}

void prepare_tls(const tls_options& options) { (void)shared_tls_context(options); }

boost::system::error_code prepare_tls_client(SSL* ssl_handle, const std::string& host, bool verify) {
  boost::system::error_code ec;
  const auto address = boost::asio::ip::make_address(host, ec);
  const bool literal = !ec;
  if (!literal && SSL_set_tlsext_host_name(ssl_handle, host.c_str()) != 1)
    return {static_cast<int>(ERR_get_error()), boost::asio::error::get_ssl_category()};
  if (!verify) return {};
  // OpenSSL checks the name (or address) during the handshake, against the SANs.
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  const int ok = literal ? X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str())
                         : X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size());
  if (ok != 1) return {static_cast<int>(ERR_get_error()), boost::asio::error::get_ssl_category()};
  (void)address;
  return {};
}

bool is_certificate_failure(const boost::system::error_code& ec) {
  return ec.category() == boost::asio::error::get_ssl_category() &&
         ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == SSL_R_CERTIFICATE_VERIFY_FAILED;
}

std::string tls_error_text(const boost::system::error_code& ec) {
  std::string text = ec.message();
  if (ec.category() == boost::asio::error::get_ssl_category()) {
    char buf[256];
    ERR_error_string_n(static_cast<unsigned long>(ec.value()), buf, sizeof buf);
    text = buf;
  }
  return text;
}

}  // namespace localproxy::transport
