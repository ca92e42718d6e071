// Certificate and host-name verification of the service's TLS, against real TLS servers on
// 127.0.0.1 presenting certificates made by the test.
#include "transport_fixture.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <utility>

#include "tls_context.hpp"

namespace transport_test {
namespace {

using transport::failure_kind;

class TlsVerification : public TransportTest {};

TEST_F(TlsVerification, TrustedCapathAndRightHostNamePass) {
  websocket_server service(io, tls_service(certs().localhost));
  auto out = connect(service_target(service.port()));
  ASSERT_TRUE(out.connection) << out.failure.message;
  EXPECT_EQ(echo(*out.connection, "hello over TLS"), "hello over TLS");
  ASSERT_EQ(service.server_names().size(), 1u);
  EXPECT_EQ(service.server_names()[0], "localhost");  // SNI
}

TEST_F(TlsVerification, SystemStoreAloneDoesNotTrustTheTestCa) {
  websocket_server service(io, tls_service(certs().localhost));
  auto t = service_target(service.port());
  t.tls_settings.capath.clear();
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::certificate) << out.failure.message;
  EXPECT_TRUE(out.failure.retryable());
  EXPECT_NE(out.failure.message.find("certificate verify failed"), std::string::npos) << out.failure.message;
  EXPECT_TRUE(service.requests().empty());
}

// Sets an environment variable for one test, and puts back what was there.
class scoped_env {
 public:
  scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~scoped_env() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The system store as the bundle `bundle` alone: SSL_CERT_FILE names it, SSL_CERT_DIR an empty
// directory; capath() is an empty directory of its own for --capath, so that the settings get a
// store of their own (stores are kept per settings for the process).
class bundle_only {
 public:
  bundle_only(const temp_dir& dir, const std::filesystem::path& bundle)
      : empty_(made(dir.path() / "empty")),
        none_(made(dir.path() / "none")),
        cert_dir_("SSL_CERT_DIR", empty_.c_str()),
        cert_file_("SSL_CERT_FILE", bundle.c_str()) {}
  [[nodiscard]] std::string capath() const { return none_.string(); }

 private:
  static std::filesystem::path made(const std::filesystem::path& p) {
    std::filesystem::create_directories(p);
    return p;
  }
  std::filesystem::path empty_, none_;
  scoped_env cert_dir_, cert_file_;
};

// The system store is used as a hashed directory (read lazily) when it is one: the test CA in
// SSL_CERT_DIR, nothing else named, verifies. Each case names its own empty --capath so that it
// gets a store of its own (stores are kept per settings for the process).
TEST_F(TlsVerification, SystemStoreFromAHashedDirectory) {
  websocket_server service(io, tls_service(certs().localhost));
  temp_dir dir;
  const auto system = dir.path() / "system";
  certs().trusted.write_capath(system.string());
  std::filesystem::create_directory(dir.path() / "none");
  const scoped_env cert_dir("SSL_CERT_DIR", system.c_str());
  const scoped_env cert_file("SSL_CERT_FILE", nullptr);
  auto t = service_target(service.port());
  t.tls_settings.capath = (dir.path() / "none").string();
  auto out = connect(t);
  ASSERT_TRUE(out.connection) << out.failure.message;
  EXPECT_EQ(echo(*out.connection, "lazy store"), "lazy store");
}

// A bundle named in SSL_CERT_FILE is still read, beside a system directory without the CA.
TEST_F(TlsVerification, SystemStoreFromTheBundleInSslCertFile) {
  websocket_server service(io, tls_service(certs().localhost));
  temp_dir dir;
  const auto hashed = dir.path() / "hashed";
  certs().trusted.write_capath(hashed.string());
  const bundle_only store(dir, std::filesystem::directory_iterator(hashed)->path());
  auto t = service_target(service.port());
  t.tls_settings.capath = store.capath();
  auto out = connect(t);
  ASSERT_TRUE(out.connection) << out.failure.message;
}

// Every certificate of the PEM files in `dir`, one after another, as a bundle holds them.
std::string pem_of(const std::filesystem::path& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    std::ifstream in(entry.path());
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return all;
}

std::size_t certificates_in_store(const transport::tls_options& options) {
  X509_STORE* store = SSL_CTX_get_cert_store(transport::shared_tls_context(options)->native_handle());
  std::size_t n = 0;
  X509_STORE_lock(store);
  const auto* objects = X509_STORE_get0_objects(store);
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i)
    if (X509_OBJECT_get_type(sk_X509_OBJECT_value(objects, i)) == X509_LU_X509) ++n;
  X509_STORE_unlock(store);
  return n;
}

// A bundle in SSL_CERT_FILE is read as a hashed directory is, when a handshake needs a CA: the
// store holds nothing before the first handshake and afterwards the one CA it used, not the
// bundle's every certificate (Debian's, here in the middle, has some 140).
TEST_F(TlsVerification, ABundleIsReadAsHandshakesNeedIt) {
  websocket_server service(io, tls_service(certs().localhost));
  temp_dir dir;
  certs().trusted.write_capath(dir.path() / "trusted");
  std::string bundle_text = pem_of(certs().other_capath);
  if (std::ifstream system("/etc/ssl/certs/ca-certificates.crt"); system)
    bundle_text.append(std::istreambuf_iterator<char>(system), std::istreambuf_iterator<char>());
  bundle_text += pem_of(dir.path() / "trusted");
  bundle_text += pem_of(certs().other_capath);
  std::ofstream(dir.path() / "bundle.pem") << bundle_text;
  const bundle_only store(dir, dir.path() / "bundle.pem");
  auto t = service_target(service.port());
  t.tls_settings.capath = store.capath();
  EXPECT_EQ(certificates_in_store(t.tls_settings), 0u);
  auto out = connect(t);
  ASSERT_TRUE(out.connection) << out.failure.message;
  EXPECT_EQ(echo(*out.connection, "one CA read"), "one CA read");
  EXPECT_EQ(certificates_in_store(t.tls_settings), 1u);
  auto again = connect(t);
  ASSERT_TRUE(again.connection) << again.failure.message;
  EXPECT_EQ(certificates_in_store(t.tls_settings), 1u);
}

// A bundle without the service's CA does not verify it, and one that is not there is no store.
TEST_F(TlsVerification, ABundleWithoutTheCaOrNoBundleFails) {
  websocket_server service(io, tls_service(certs().localhost));
  temp_dir dir;
  const auto bundle = dir.path() / "bundle.pem";
  std::ofstream(bundle) << pem_of(certs().other_capath);
  std::filesystem::create_directory(dir.path() / "empty");
  const scoped_env cert_dir("SSL_CERT_DIR", (dir.path() / "empty").c_str());
  for (const auto& [file, capath] : {std::pair{bundle, dir.path() / "none1"}, std::pair{dir.path() / "absent.pem", dir.path() / "none2"}}) {
    std::filesystem::create_directory(capath);
    const scoped_env cert_file("SSL_CERT_FILE", file.c_str());
    auto t = service_target(service.port());
    t.tls_settings.capath = capath.string();
    auto out = connect(t);
    ASSERT_TRUE(out.finished) << file;
    EXPECT_FALSE(out.connection) << file;
    EXPECT_EQ(out.failure.kind, failure_kind::certificate) << file << ": " << out.failure.message;
  }
}

// The CA store is read once per process and settings, not on every connect: once a connect has
// verified through a CA directory, emptying that directory changes nothing for later connects
// with the same settings, while settings naming another (empty) directory get their own store.
TEST_F(TlsVerification, CaStoreIsLoadedOnceAndReused) {
  websocket_server service(io, tls_service(certs().localhost));
  temp_dir dir;
  const auto capath = dir.path() / "ca";
  certs().trusted.write_capath(capath.string());
  auto t = service_target(service.port());
  t.tls_settings.capath = capath.string();
  auto first = connect(t);
  ASSERT_TRUE(first.connection) << first.failure.message;

  std::filesystem::remove_all(capath);
  std::filesystem::create_directory(capath);
  auto again = connect(t);
  ASSERT_TRUE(again.connection) << "the store was read again: " << again.failure.message;
  EXPECT_EQ(echo(*again.connection, "same store"), "same store");

  const auto empty = dir.path() / "empty";
  std::filesystem::create_directory(empty);
  t.tls_settings.capath = empty.string();
  auto other = connect(t);
  ASSERT_TRUE(other.finished);
  EXPECT_FALSE(other.connection);
  EXPECT_EQ(other.failure.kind, failure_kind::certificate) << other.failure.message;
}

TEST_F(TlsVerification, CertificateFromAnotherCaFails) {
  websocket_server service(io, tls_service(certs().untrusted));
  auto out = connect(service_target(service.port()));
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::certificate) << out.failure.message;
  EXPECT_TRUE(service.requests().empty());
}

TEST_F(TlsVerification, CapathOfAnotherCaFails) {
  websocket_server service(io, tls_service(certs().localhost));
  auto t = service_target(service.port());
  t.tls_settings.capath = certs().other_capath;
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::certificate) << out.failure.message;
}

TEST_F(TlsVerification, MissingCapathDirectoryFailsVerification) {
  websocket_server service(io, tls_service(certs().localhost));
  auto t = service_target(service.port());
  t.tls_settings.capath = (certs().dir.path() / "no-such-directory").string();
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::certificate) << out.failure.message;
}

TEST_F(TlsVerification, CertificateForAnotherHostNameFails) {
  websocket_server service(io, tls_service(certs().wrong_host));
  auto out = connect(service_target(service.port()));
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::certificate) << out.failure.message;
  EXPECT_NE(out.failure.message.find("certificate verify failed"), std::string::npos) << out.failure.message;
  EXPECT_TRUE(service.requests().empty());
}

TEST_F(TlsVerification, IpLiteralMissingFromTheCertificateFails) {
  websocket_server service(io, tls_service(certs().localhost));  // DNS:localhost only
  auto t = service_target(service.port());
  t.host = "127.0.0.1";
  auto out = connect(t);
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::certificate) << out.failure.message;
}

TEST_F(TlsVerification, IpLiteralInTheCertificatePassesWithoutSni) {
  websocket_server service(io, tls_service(certs().localhost_and_ip));
  auto t = service_target(service.port());
  t.host = "127.0.0.1";
  auto out = connect(t);
  ASSERT_TRUE(out.connection) << out.failure.message;
  ASSERT_EQ(service.server_names().size(), 1u);
  EXPECT_EQ(service.server_names()[0], "");  // no SNI for an IP literal (RFC 6066)
}

TEST_F(TlsVerification, ExpiredCertificateFails) {
  websocket_server service(io, tls_service(certs().expired));
  auto out = connect(service_target(service.port()));
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::certificate) << out.failure.message;
}

TEST_F(TlsVerification, NoVerifyAcceptsAnUntrustedCertificate) {  // -k
  websocket_server service(io, tls_service(certs().untrusted));
  auto t = service_target(service.port());
  t.tls_settings.verify = false;
  t.tls_settings.capath.clear();
  auto out = connect(t);
  ASSERT_TRUE(out.connection) << out.failure.message;
  EXPECT_EQ(echo(*out.connection, "unverified"), "unverified");
  ASSERT_EQ(service.server_names().size(), 1u);
  EXPECT_EQ(service.server_names()[0], "localhost");  // SNI is still sent
}

TEST_F(TlsVerification, NoVerifyAcceptsAWrongHostName) {  // -k
  websocket_server service(io, tls_service(certs().wrong_host));
  auto t = service_target(service.port());
  t.tls_settings.verify = false;
  auto out = connect(t);
  ASSERT_TRUE(out.connection) << out.failure.message;
}

TEST_F(TlsVerification, SilentServerTimesOutInTheTlsHandshake) {
  raw_server silent(io, raw_server::mode::silent);
  auto t = service_target(silent.port());
  t.step_timeout = 300ms;
  auto out = connect(t, 10s);
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::timeout) << out.failure.message;
  EXPECT_TRUE(out.failure.retryable());
  EXPECT_EQ(silent.accepted(), 1);
  EXPECT_LT(out.elapsed, 5s);  // the step timeout, not some longer default
}

TEST_F(TlsVerification, PlainHttpServerIsATlsFailure) {
  raw_server plain(io, raw_server::mode::reply_at_once, "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n");
  auto out = connect(service_target(plain.port()));
  ASSERT_TRUE(out.finished);
  EXPECT_FALSE(out.connection);
  EXPECT_EQ(out.failure.kind, failure_kind::tls) << out.failure.message;
}

}  // namespace
}  // namespace transport_test
