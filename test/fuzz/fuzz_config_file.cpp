// --config files: the file's text, read through the real parse_command_line (localproxy
// --config FILE) and through read_key_value_file. The first input byte picks the environment
// (access token, region, web proxy) and extra command line options, so that files that only add
// to them get past the required options.
// Checks: only usage_error comes out, never showing the token; a file that parses gives complete
// options (token, endpoint, mappings that fit the mode); every entry has a trimmed, non-empty key.
#include <sys/mman.h>
#include <unistd.h>

#include <optional>
#include <string>
#include <vector>

#include "parse_checks.hpp"
#include "localproxy/config/config_files.hpp"

namespace {
namespace lc = localproxy::config;

// The file lives in memory: /proc/self/fd/N of a memfd, rewritten for every input.
int file_fd() {
  static const int fd = ::memfd_create("lp-fuzz-config", 0);
  return fd;
}
std::string file_path() { return "/proc/self/fd/" + std::to_string(file_fd()); }

bool write_file(std::string_view text) {
  const int fd = file_fd();
  if (fd < 0 || ::ftruncate(fd, 0) != 0 || ::lseek(fd, 0, SEEK_SET) != 0) return false;
  std::size_t done = 0;
  while (done < text.size()) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n <= 0) return false;
    done += static_cast<std::size_t>(n);
  }
  return true;
}
}  // namespace

LP_FUZZ_INITIALIZE(fuzz::check(file_fd() >= 0, "memfd_create failed"))

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0 || size > 16384) return -1;
  const auto choice = data[0];
  const auto text = fuzz::as_text(data + 1, size - 1);
  if (fuzz::reads_outside(text)) return -1;
  if (!write_file(text)) fuzz::fail("cannot write the memfd");
  const auto path = file_path();

  try {
    const auto entries = lc::read_key_value_file(path);
    for (const auto& e : entries) {
      fuzz::check(!e.key.empty(), "an entry with an empty key");
      fuzz::check(e.key.front() != ' ' && e.key.back() != ' ', "an untrimmed key: " + fuzz::printable(e.key));
      fuzz::check(e.line >= 1, "an entry without a line number");
    }
  } catch (const lc::usage_error& e) {
    fuzz::check(std::string(e.what()).find(path) != std::string::npos, "a file error that does not name the file");
  }

  std::vector<std::string> args{"localproxy", "--config", path};
  if (choice & 0x10) args.insert(args.end(), {"-s", "5555"});
  if (choice & 0x20) args.insert(args.end(), {"-v", "5"});
  if (choice & 0x40) args.insert(args.end(), {"-d", "SSH=22"});
  const lc::environment env = [choice](std::string_view name) -> std::optional<std::string> {
    if ((choice & 1) && name == "AWSIOT_TUNNEL_ACCESS_TOKEN") return std::string(fuzz::secret_token);
    if ((choice & 2) && name == "AWSIOT_TUNNEL_REGION") return std::string("us-east-1");
    if ((choice & 4) && name == "https_proxy") return std::string("http://proxy.invalid:3128");
    if ((choice & 8) && name == "no_proxy") return std::string(".amazonaws.com");
    return std::nullopt;
  };
  fuzz::check_command_line(args, env, text);
  return 0;
}
