#include "tls_context.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include <openssl/err.h>
#include <openssl/pem.h>
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

// A CA bundle (one PEM file of many certificates) read the way OpenSSL reads a hashed directory:
// nothing at start-up; a look-up by subject reads the file through, one certificate at a time,
// and adds to the store only those of that subject, which the store then keeps. Parsed whole up
// front, Debian's bundle of some 140 certificates (of which a handshake uses one) would take about
// 1 MiB of heap, and the resident set past 8 MiB. (CRLs in the bundle are not read.)
int bundle_by_subject(X509_LOOKUP* lookup, X509_LOOKUP_TYPE type, const X509_NAME* name, X509_OBJECT* ret) {
  const auto* path = static_cast<const std::string*>(X509_LOOKUP_get_method_data(lookup));
  X509_STORE* store = X509_LOOKUP_get_store(lookup);
  if (type != X509_LU_X509 || !path || !store) return 0;
  BIO* in = BIO_new_file(path->c_str(), "r");
  if (!in) {
    ERR_clear_error();
    return 0;
  }
  bool added = false;
  // _AUX: also "TRUSTED CERTIFICATE" blocks, with the trust settings they carry.
  while (X509* cert = PEM_read_bio_X509_AUX(in, nullptr, nullptr, nullptr)) {
    if (X509_NAME_cmp(X509_get_subject_name(cert), name) == 0 && X509_STORE_add_cert(store, cert) == 1) added = true;
    X509_free(cert);
  }
  ERR_clear_error();  // the end of the file reads as an error ("no start line")
  BIO_free(in);
  if (!added) return 0;
  // One of them goes back to the caller as OpenSSL's own look-ups hand one back: the store's
  // reference, lent (the caller takes one of its own). The store keeps it while it lives.
  if (X509_STORE_lock(store) != 1) return 0;
  X509_OBJECT* found = X509_OBJECT_retrieve_by_subject(X509_STORE_get0_objects(store), X509_LU_X509, name);
  X509* cert = found ? X509_OBJECT_get0_X509(found) : nullptr;
  const bool ok = cert && X509_OBJECT_set1_X509(ret, cert) == 1;
  if (ok) X509_free(cert);  // the reference set1 took: `ret` lends the store's
  X509_STORE_unlock(store);
  return ok ? 1 : 0;
}

void bundle_free(X509_LOOKUP* lookup) {
  delete static_cast<std::string*>(X509_LOOKUP_get_method_data(lookup));
  X509_LOOKUP_set_method_data(lookup, nullptr);
}

X509_LOOKUP_METHOD* bundle_method() {
  static X509_LOOKUP_METHOD* method = [] {
    X509_LOOKUP_METHOD* m = X509_LOOKUP_meth_new("localproxy CA bundle");
    if (m) {
      X509_LOOKUP_meth_set_get_by_subject(m, bundle_by_subject);
      X509_LOOKUP_meth_set_free(m, bundle_free);
    }
    return m;
  }();
  return method;
}

bool add_bundle(ssl::context& ctx, const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  X509_LOOKUP_METHOD* method = bundle_method();
  X509_LOOKUP* lookup = method ? X509_STORE_add_lookup(SSL_CTX_get_cert_store(ctx.native_handle()), method) : nullptr;
  if (!lookup) {
    ERR_clear_error();
    return false;
  }
  delete static_cast<std::string*>(X509_LOOKUP_get_method_data(lookup));
  X509_LOOKUP_set_method_data(lookup, new std::string(path));
  return true;
}

// The system's CA certificates, where OpenSSL's defaults put them: the hashed directory
// (/etc/ssl/certs, or SSL_CERT_DIR) and the bundle file (SSL_CERT_FILE, or OpenSSL's default
// file), both read a certificate at a time as handshakes need them. The bundle is left out when
// SSL_CERT_FILE names none and the directory is a hashed one: Debian's default bundle holds the
// directory's certificates again.
// `quiet`: no warning when it is missing (a --capath is given, or nothing is verified).
void load_system_store(ssl::context& ctx, bool quiet) {
  const char* dir = std::getenv(X509_get_default_cert_dir_env());
  if (!dir) dir = X509_get_default_cert_dir();
  const char* named_file = std::getenv(X509_get_default_cert_file_env());
  const bool hashed = hashed_directory(dir) && SSL_CTX_load_verify_dir(ctx.native_handle(), dir) == 1;
  ERR_clear_error();
  if (hashed && !named_file) return;
  const bool bundle = add_bundle(ctx, named_file ? named_file : X509_get_default_cert_file());
  // As OpenSSL's defaults do, the directory is searched even when it holds no hashed names now.
  if (!hashed && SSL_CTX_load_verify_dir(ctx.native_handle(), dir) != 1) ERR_clear_error();
  if (hashed || bundle) return;
  if (quiet)
    LP_LOG(debug) << "No system CA store (" << dir << " holds no hashed certificates, and there is no bundle file)";
  else
    LP_LOG(warning) << "No system CA store: " << dir << " holds no hashed certificates, and there is no bundle file; "
                    << "name the service's CA with -c/--capath";
}

std::shared_ptr<ssl::context> load_tls_context(const tls_options& options) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_client);
  SSL_CTX_set_min_proto_version(ctx->native_handle(), TLS1_2_VERSION);
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_compression);
  load_system_store(*ctx, !options.capath.empty() || !options.verify);
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
