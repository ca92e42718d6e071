// no_proxy matching, following curl's reading of the variable: an entry matches the host itself
// or any subdomain of it, a leading '.' or '*.' changes nothing, and a lone '*' matches all.
#include "localproxy/config/web_proxy_url.hpp"
#include "text.hpp"

namespace localproxy::config {
namespace {

// Strips brackets from an IPv6 literal and a trailing ":port" from anything else.
std::string normalise_entry(std::string_view entry) {
  if (!entry.empty() && entry.front() == '[') {
    const auto close = entry.find(']');
    return text::lower(entry.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1));
  }
  const auto colon = entry.find(':');
  // More than one ':' is an unbracketed IPv6 address, which has no port to strip.
  if (colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos)
    entry = entry.substr(0, colon);
  if (entry.starts_with("*.")) entry.remove_prefix(2);
  while (!entry.empty() && entry.front() == '.') entry.remove_prefix(1);
  while (!entry.empty() && entry.back() == '.') entry.remove_suffix(1);
  return text::lower(entry);
}

// An IP literal has no subdomains: it only matches itself.
bool is_ip_literal(std::string_view h) {
  if (h.find(':') != std::string_view::npos) return true;
  for (char c : h)
    if (!((c >= '0' && c <= '9') || c == '.')) return false;
  return true;
}

}  // namespace

bool no_proxy_matches(std::string_view no_proxy, std::string_view host) {
  std::string h = text::lower(host);
  if (h.size() > 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  while (!h.empty() && h.back() == '.') h.pop_back();
  if (h.empty()) return false;
  for (const auto raw : text::split(no_proxy, ',')) {
    if (raw == "*") return true;
    const auto entry = normalise_entry(raw);
    if (entry.empty()) continue;
    if (h == entry) return true;
    if (!is_ip_literal(h) && h.size() > entry.size() && h.ends_with(entry) && h[h.size() - entry.size() - 1] == '.') return true;
  }
  return false;
}

}  // namespace localproxy::config
