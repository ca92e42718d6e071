#include "registry.hpp"

#include <algorithm>

namespace tunnel_service {

bool tunnel::knows(std::string_view service) const {
  return services.empty() || std::find(services.begin(), services.end(), service) != services.end();
}

registry::registry() : rng_(std::random_device{}()) {}

std::string registry::random_text(std::size_t length, bool hex_only) {
  static constexpr char alphabet[] = "0123456789abcdefABCDEFGHIJKLMNOPQRSTUVWXYZghijklmnopqrstuvwxyz";
  std::uniform_int_distribution<int> pick(0, hex_only ? 15 : 61);
  std::string text(length, '0');
  for (auto& c : text) c = alphabet[pick(rng_)];
  return text;
}

std::shared_ptr<tunnel> registry::open(std::vector<std::string> services, std::string id, std::string source_token,
                                       std::string destination_token) {
  auto t = std::make_shared<tunnel>();
  t->id = id.empty() ? random_text(16, true) : std::move(id);
  t->services = std::move(services);
  t->source.token = source_token.empty() ? "src-" + random_text(40, false) : std::move(source_token);
  t->destination.token = destination_token.empty() ? "dst-" + random_text(40, false) : std::move(destination_token);
  tunnels_[t->id] = t;
  return t;
}

std::shared_ptr<tunnel> registry::find(const std::string& id) const {
  auto it = tunnels_.find(id);
  return it == tunnels_.end() ? nullptr : it->second;
}

std::pair<std::shared_ptr<tunnel>, role> registry::by_token(const std::string& token) const {
  for (const auto& [id, t] : tunnels_) {
    if (t->source.token == token) return {t, role::source};
    if (t->destination.token == token) return {t, role::destination};
  }
  return {nullptr, role::source};
}

void registry::rotate(tunnel& t) {
  for (role r : {role::source, role::destination}) {
    auto& s = t.of(r);
    s.token = std::string(r == role::source ? "src-" : "dst-") + random_text(40, false);
    s.client_token.clear();
    s.used = false;
    if (s.connection) s.connection->abort();
    s.connection.reset();
  }
  t.streams.clear();
}

}  // namespace tunnel_service
