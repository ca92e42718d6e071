// no_proxy matching (no_proxy_matches). Input: the no_proxy value, a newline, the host.
// Checks: no crash; case does not matter; adding entries never loses a match; "*" matches every
// host; a plain host name matches itself and its subdomains.
#include <algorithm>
#include <cctype>
#include <string>

#include "fuzz_common.hpp"
#include "localproxy/config/web_proxy_url.hpp"

namespace {
namespace lc = localproxy::config;

std::string upper(std::string_view s) {
  std::string out(s);
  for (auto& c : out)
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  return out;
}

// Labels of [a-z0-9-], none empty, at least one letter somewhere (not an IP address).
bool plain_name(std::string_view h) {
  if (h.empty() || h.front() == '.' || h.back() == '.' || h.find("..") != std::string_view::npos) return false;
  bool letter = false;
  for (char c : h) {
    if (c >= 'a' && c <= 'z') letter = true;
    else if (!((c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return letter;
}
}  // namespace

LP_FUZZ_INITIALIZE()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto input = fuzz::as_text(data, size);
  const auto nl = input.find('\n');
  const auto list = input.substr(0, nl);
  const auto host = nl == std::string_view::npos ? std::string_view("example.com") : input.substr(nl + 1);
  const auto what = "no_proxy '" + fuzz::printable(list) + "' host '" + fuzz::printable(host) + "': ";

  const bool matched = lc::no_proxy_matches(list, host);
  fuzz::check(lc::no_proxy_matches(upper(list), host) == matched, what + "the case of the list matters");
  fuzz::check(lc::no_proxy_matches(list, upper(host)) == matched, what + "the case of the host matters");
  if (matched) {
    fuzz::check(lc::no_proxy_matches(std::string(list) + ",unrelated.invalid", host), what + "an added entry lost the match");
    fuzz::check(lc::no_proxy_matches("unrelated.invalid," + std::string(list), host), what + "an entry in front lost the match");
  }
  if (plain_name(host)) {
    fuzz::check(lc::no_proxy_matches("*", host), what + "'*' does not match");
    fuzz::check(lc::no_proxy_matches(host, host), what + "the host does not match itself");
    fuzz::check(lc::no_proxy_matches("." + std::string(host), "sub." + std::string(host)), what + "a subdomain does not match");
    fuzz::check(!lc::no_proxy_matches("sub." + std::string(host), host), what + "a subdomain entry matches its parent");
  }
  return 0;
}
