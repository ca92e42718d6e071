#include "self_signed.hpp"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace tunnel_service {
namespace {

namespace fs = std::filesystem;
using key_ptr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;
using cert_ptr = std::unique_ptr<X509, decltype(&X509_free)>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("self-signed certificate: ") + what + " failed");
}

key_ptr new_key() {
  key_ptr key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  check(key != nullptr, "key generation");
  return key;
}

void add_extension(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  check(ext != nullptr, "extension");
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

cert_ptr make_cert(EVP_PKEY* key, const char* common_name, X509* issuer, EVP_PKEY* issuer_key, long serial) {
  cert_ptr cert(X509_new(), X509_free);
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 60L * 60 * 24 * 825);
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>(common_name), -1, -1, 0);
  X509_set_issuer_name(cert.get(), issuer ? X509_get_subject_name(issuer) : name);
  X509* signer = issuer ? issuer : cert.get();
  if (!issuer) {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:TRUE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    add_extension(cert.get(), signer, NID_basic_constraints, "critical,CA:FALSE");
    add_extension(cert.get(), signer, NID_key_usage, "critical,digitalSignature");
    add_extension(cert.get(), signer, NID_ext_key_usage, "serverAuth");
    add_extension(cert.get(), signer, NID_subject_alt_name, "DNS:localhost,IP:127.0.0.1,IP:::1");
  }
  add_extension(cert.get(), signer, NID_subject_key_identifier, "hash");
  check(X509_sign(cert.get(), issuer_key ? issuer_key : key, EVP_sha256()) > 0, "signing");
  return cert;
}

// Written with `mode` from the start (a key is never readable by others, whatever the umask),
// and chmod-ed too in case the file was already there.
template <class Write>
void write_pem(const fs::path& path, mode_t mode, Write write) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) throw std::runtime_error("cannot write " + path.string() + " (" + std::strerror(errno) + ")");
  FILE* f = ::fdopen(fd, "w");
  if (!f) {
    ::close(fd);
    throw std::runtime_error("cannot write " + path.string());
  }
  const bool ok = ::fchmod(fd, mode) == 0 && write(f);
  const bool closed = std::fclose(f) == 0;
  if (!ok || !closed) throw std::runtime_error("cannot write " + path.string());
}

}  // namespace

void ensure_self_signed(const std::string& dir_name) {
  const fs::path dir(dir_name);
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) throw std::runtime_error("not a directory");
  if (fs::exists(dir / "ca.pem", ec) && fs::exists(dir / "server.pem", ec) && fs::exists(dir / "server.key", ec)) return;
  if (fs::create_directories(dir / "ca", ec); ec)
    throw std::runtime_error("cannot create " + (dir / "ca").string() + " (" + ec.message() + ")");
  auto ca_key = new_key();
  auto ca = make_cert(ca_key.get(), "tunnel-service test CA", nullptr, nullptr, 1);
  auto server_key = new_key();
  auto server = make_cert(server_key.get(), "localhost", ca.get(), ca_key.get(), 2);
  write_pem(dir / "ca.pem", 0644, [&](FILE* f) { return PEM_write_X509(f, ca.get()) == 1; });
  write_pem(dir / "server.pem", 0644, [&](FILE* f) { return PEM_write_X509(f, server.get()) == 1; });
  write_pem(dir / "server.key", 0600, [&](FILE* f) {
    return PEM_write_PrivateKey(f, server_key.get(), nullptr, nullptr, 0, nullptr, nullptr) == 1;
  });
  char hashed[32];
  std::snprintf(hashed, sizeof hashed, "%08lx.0", X509_subject_name_hash(ca.get()));
  write_pem(dir / "ca" / hashed, 0644, [&](FILE* f) { return PEM_write_X509(f, ca.get()) == 1; });
}

}  // namespace tunnel_service
