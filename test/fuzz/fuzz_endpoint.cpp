// -e/--proxy-endpoint values (parse_service_endpoint), and the endpoint a region gives.
// Checks: only usage_error comes out; an accepted endpoint has a host and a port, warns about
// ws://, and reads back the same from its own url(); for a valid region name, the settings' default
// endpoint format and overrides give the built-in host (China regions included), which parses back.
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "localproxy/config/endpoint.hpp"
#include "localproxy/config/validation.hpp"

namespace {
namespace lc = localproxy::config;

std::string show(const lc::service_endpoint& e) {
  return fuzz::printable(e.host) + " port " + std::to_string(e.port) + (e.tls ? " tls" : " plain");
}
}  // namespace

LP_FUZZ_INITIALIZE()

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto text = fuzz::as_text(data, size);
  std::vector<std::string> warnings;
  try {
    const auto ep = lc::parse_service_endpoint(text, "-e/--proxy-endpoint", warnings);
    fuzz::check(!ep.host.empty() && ep.port != 0, "accepted an endpoint without host or port: " + show(ep));
    fuzz::check(ep.tls || !warnings.empty(), "ws:// accepted without a warning");
    std::vector<std::string> again_warnings;
    lc::service_endpoint again;
    try {
      again = lc::parse_service_endpoint(ep.url(), "url()", again_warnings);
    } catch (const lc::usage_error& e) {
      fuzz::fail("url() " + fuzz::printable(ep.url()) + " is refused: " + e.what());
    }
    fuzz::check(again == ep, "url() does not read back: " + show(ep) + " -> " + fuzz::printable(ep.url()) + " -> " + show(again));
  } catch (const lc::usage_error& e) {
    const std::string what = e.what();
    fuzz::check(what.starts_with("-e/--proxy-endpoint"), "error does not name the option: " + fuzz::printable(what));
    fuzz::note(what.find('\n') == std::string::npos, "multi-line error", fuzz::printable(what));
  }

  if (lc::is_valid_region(text)) {
    const lc::settings defaults;
    const auto ep = lc::region_endpoint(text, defaults);
    fuzz::check(ep.host == lc::default_region_host(text) && ep.port == 443 && ep.tls,
                "region " + fuzz::printable(text) + " gives " + show(ep) + ", built in: " + lc::default_region_host(text));
    std::vector<std::string> w;
    try {
      (void)lc::parse_service_endpoint(ep.host, "region host", w);
    } catch (const lc::usage_error& e) {
      fuzz::fail("the host for region " + fuzz::printable(text) + " does not parse: " + e.what());
    }
  }
  return 0;
}
