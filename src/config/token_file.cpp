#include "localproxy/config/token_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "localproxy/config/validation.hpp"
#include "file_descriptor.hpp"

namespace localproxy::config {
namespace {

constexpr std::size_t max_token_file_size = 8192;

std::string octal_mode(mode_t mode) {
  std::string out = "0";
  for (int shift = 6; shift >= 0; shift -= 3) out += static_cast<char>('0' + ((mode >> shift) & 7));
  return out;
}

}  // namespace

std::string read_token_file(const std::string& path, const std::string& what, bool require_private) {
  const auto where = what + ": " + path;
  if (path.empty()) throw usage_error(what + ": expected a file name");
  file_descriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
  if (fd.get() < 0) throw usage_error(where + ": cannot open (" + std::strerror(errno) + ")");
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw usage_error(where + ": cannot stat (" + std::strerror(errno) + ")");
  if (!S_ISREG(st.st_mode)) throw usage_error(where + ": not a regular file");
  // A token file anyone else can read is a leaked token: refuse it rather than warn.
  if (require_private && (st.st_mode & (S_IRGRP | S_IROTH)) != 0)
    throw usage_error(where + ": readable by group or others (mode " + octal_mode(st.st_mode & 0777) +
                      "); make it private, e.g. chmod 600");
  std::string token;
  char buffer[1024];
  for (;;) {
    const auto n = ::read(fd.get(), buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw usage_error(where + ": cannot read (" + std::strerror(errno) + ")");
    if (n == 0) break;
    token.append(buffer, static_cast<std::size_t>(n));
    if (token.size() > max_token_file_size) throw usage_error(where + ": too large for a token (over 8 KiB)");
  }
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.empty()) throw usage_error(where + ": the file is empty");
  return token;
}

std::string reread_access_token(const token_origin& origin) {
  auto token = read_token_file(origin.file, origin.option, origin.require_private);
  check_access_token(token, origin.describe());
  return token;
}

std::string reread_client_token(const token_origin& origin) {
  auto token = read_token_file(origin.file, origin.option, origin.require_private);
  check_client_token(token, origin.describe());
  return token;
}

void remove_token_variables() {
  for (const char* name : {"AWSIOT_TUNNEL_ACCESS_TOKEN", "AWSIOT_TUNNEL_CLIENT_TOKEN", "AWSIOT_CLIENT_TOKEN"}) {
    // unsetenv alone leaves the original bytes where /proc/PID/environ reads them: blank them first.
    if (char* value = std::getenv(name)) ::explicit_bzero(value, std::strlen(value));
    ::unsetenv(name);
  }
}

}  // namespace localproxy::config
