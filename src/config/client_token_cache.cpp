#include "localproxy/config/client_token_cache.hpp"

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>

#include "file_descriptor.hpp"
#include "localproxy/config/validation.hpp"

namespace localproxy::config {
namespace {

std::string hex(const unsigned char* bytes, std::size_t size) {
  std::string out;
  for (std::size_t i = 0; i < size; ++i) {
    out += "0123456789abcdef"[bytes[i] >> 4];
    out += "0123456789abcdef"[bytes[i] & 15];
  }
  return out;
}

std::string file_name_for(const std::string& access_token) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(access_token.data(), access_token.size(), digest, &size, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 is not available");
  return hex(digest, size);
}

// The UUID form every generated client token has (see tunnel::random_client_token).
std::string new_client_token() {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) throw std::runtime_error("no random bytes for a client token");
  const auto h = hex(bytes, sizeof bytes);
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

std::string error_text() { return std::strerror(errno); }

// A directory only this user can enter (made with mode 0700, or set to it); -1 and `problem` if not.
int private_directory(const std::string& dir, std::string& problem) {
  const auto parent = std::filesystem::path(dir).parent_path();
  if (!parent.empty()) (void)::mkdir(parent.c_str(), 0700);  // ~/.cache may not exist yet
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    problem = "cannot make " + dir + " (" + error_text() + ")";
    return -1;
  }
  file_descriptor fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  struct stat st {};
  if (fd.get() < 0 || ::fstat(fd.get(), &st) != 0) {
    problem = "cannot open " + dir + " (" + error_text() + ")";
    return -1;
  }
  if (st.st_uid != ::geteuid()) {
    problem = dir + " belongs to another user";
    return -1;
  }
  if ((st.st_mode & 0777) != 0700 && ::fchmod(fd.get(), 0700) != 0) {
    problem = "cannot make " + dir + " private (" + error_text() + ")";
    return -1;
  }
  return ::dup(fd.get());
}

// The token kept in `name`; nullopt when there is none (`exists` false) or it cannot be trusted
// (`problem` says why: it is then replaced).
std::optional<std::string> read_kept(int dir, const std::string& name, bool& exists, std::string& problem) {
  file_descriptor fd(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  exists = fd.get() >= 0 || errno != ENOENT;
  if (fd.get() < 0) {
    if (exists) problem = "cannot read it (" + error_text() + ")";
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 077) != 0) {
    problem = "it is not a private file of this user";
    return std::nullopt;
  }
  char buffer[256];
  const auto n = ::read(fd.get(), buffer, sizeof buffer);
  std::string token(buffer, n > 0 ? static_cast<std::size_t>(n) : 0);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (!is_valid_client_token(token)) {
    problem = "it holds no client token";
    return std::nullopt;
  }
  return token;
}

// Writes the token beside `name`, then puts it in place: over an untrusted file (`replace`), or
// only where none is (false when another run kept one first).
bool keep(int dir, const std::string& name, const std::string& token, bool replace, std::string& problem) {
  const auto temporary = name + ".new-" + std::to_string(::getpid());
  (void)::unlinkat(dir, temporary.c_str(), 0);
  {
    file_descriptor fd(::openat(dir, temporary.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    const auto line = token + "\n";
    if (fd.get() < 0 || ::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size()) ||
        ::fsync(fd.get()) != 0) {
      problem = "cannot write it (" + error_text() + ")";
      (void)::unlinkat(dir, temporary.c_str(), 0);
      return false;
    }
  }
  const int placed = replace ? ::renameat(dir, temporary.c_str(), dir, name.c_str())
                             : ::linkat(dir, temporary.c_str(), dir, name.c_str(), 0);
  const int error = errno;
  (void)::unlinkat(dir, temporary.c_str(), 0);
  if (placed == 0) return true;
  if (error != EEXIST) problem = std::string("cannot write it (") + std::strerror(error) + ")";
  return false;
}

}  // namespace

std::string client_token_cache_dir(const environment& env) {
  if (auto runtime = env("XDG_RUNTIME_DIR"); runtime && !runtime->empty()) return *runtime + "/localproxy";
  auto home = env("HOME");
  if (!home || home->empty()) {
    if (const auto* user = ::getpwuid(::geteuid()); user && user->pw_dir) home = std::string(user->pw_dir);
  }
  if (!home || home->empty()) return {};
  return *home + "/.cache/localproxy";
}

std::string remembered_client_token(const std::string& dir, const std::string& access_token,
                                    std::vector<std::string>& warnings) {
  const auto fresh = new_client_token();
  const auto not_kept = [&](const std::string& why) {
    warnings.push_back("--stdio: the client token is not kept (" + why +
                       "): the next run cannot use this access token again");
    return fresh;
  };
  if (dir.empty()) return not_kept("no XDG_RUNTIME_DIR and no home directory");
  std::string problem;
  file_descriptor d(private_directory(dir, problem));
  if (d.get() < 0) return not_kept(problem);
  const auto name = file_name_for(access_token);
  // Twice at most: when another run keeps its token first, that one is read back and used.
  for (int attempt = 0; attempt < 2; ++attempt) {
    bool exists = false;
    if (auto kept = read_kept(d.get(), name, exists, problem)) return *kept;
    if (!problem.empty())
      warnings.push_back("--stdio: replacing the kept client token " + dir + "/" + name + ": " + problem);
    problem.clear();
    if (keep(d.get(), name, fresh, exists, problem)) return fresh;
    if (!problem.empty()) return not_kept(dir + "/" + name + ": " + problem);
  }
  return not_kept("another run keeps replacing it");
}

}  // namespace localproxy::config
