#pragma once
// Throw-away certificate authorities and server certificates for the transport tests, made with
// OpenSSL's C API (as test/tunnel_service/self_signed.cpp does), kept in memory as PEM text.
#include <filesystem>
#include <memory>
#include <string>

namespace transport_test {

struct issued_cert {
  std::string cert_pem;
  std::string key_pem;
};

class test_ca {
 public:
  explicit test_ca(const std::string& common_name);
  ~test_ca();
  test_ca(const test_ca&) = delete;
  test_ca& operator=(const test_ca&) = delete;

  // A server certificate (serverAuth) with these subjectAltNames, e.g. "DNS:localhost,IP:127.0.0.1",
  // valid from `from_s` to `until_s` seconds from now.
  [[nodiscard]] issued_cert issue(const std::string& common_name, const std::string& san, long from_s = -3600,
                                  long until_s = 86400) const;
  // Writes the CA into `dir` as an OpenSSL hashed directory (HASH.0), usable as --capath.
  void write_capath(const std::filesystem::path& dir) const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

// A fresh directory under the system temporary directory, removed with everything in it.
class temp_dir {
 public:
  temp_dir();
  ~temp_dir();
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const noexcept { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace transport_test
