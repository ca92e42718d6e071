#include "api.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "localproxy/log/log.hpp"

namespace tunnel_service {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;

namespace {

struct reply {
  http::status status = http::status::ok;
  json::value body = json::object();
};

json::object tokens(const tunnel& t) {
  return {{"tunnelId", t.id}, {"sourceAccessToken", t.source.token}, {"destinationAccessToken", t.destination.token}};
}

json::object side_state(const side& s) {
  return {{"connected", s.connection && s.connection->open()}, {"subprotocol", s.subprotocol}, {"bytes", s.bytes},
          {"frames", s.frames}};
}

reply not_found() { return {http::status::not_found, json::object{{"error", "not found"}}}; }

reply open_tunnel(const std::string& body, registry& tunnels) {
  boost::system::error_code ec;
  auto v = json::parse(body.empty() ? std::string("{}") : body, ec);
  if (ec || !v.is_object()) return {http::status::bad_request, json::object{{"error", "expected a JSON object"}}};
  std::vector<std::string> services;
  if (auto* list = v.as_object().if_contains("services")) {
    if (!list->is_array()) return {http::status::bad_request, json::object{{"error", "services must be an array"}}};
    for (const auto& s : list->as_array()) {
      if (!s.is_string()) return {http::status::bad_request, json::object{{"error", "services must be strings"}}};
      services.emplace_back(s.as_string());
    }
  }
  auto t = tunnels.open(std::move(services));
  LP_LOG(info) << "Opened tunnel " << t->id << " with " << t->services.size() << " service(s)";
  return {http::status::ok, tokens(*t)};
}

reply tunnel_action(tunnel& t, http::verb verb, std::string_view action, std::string_view query, registry& tunnels,
                    server& relay_server) {
  if (verb == http::verb::get && action.empty()) {
    json::array services;
    for (const auto& s : t.services) services.emplace_back(s);
    return {http::status::ok, json::object{{"tunnelId", t.id}, {"services", services}, {"closed", t.closed},
                                           {"source", side_state(t.source)}, {"destination", side_state(t.destination)}}};
  }
  if (verb == http::verb::delete_ && action.empty()) {
    relay_server.close_tunnel(t);
    LP_LOG(info) << "Closed tunnel " << t.id;
    return {};
  }
  if (verb != http::verb::post) return not_found();
  if (action == "rotate") {
    tunnels.rotate(t);
    return {http::status::ok, tokens(t)};
  }
  if (action == "drop") {
    const bool source = query == "side=source";
    if (!source && query != "side=destination") return {http::status::bad_request, json::object{{"error", "side=source|destination"}}};
    if (auto& c = t.of(source ? role::source : role::destination).connection) c->abort();
    return {};
  }
  if (action == "freeze") {  // stop reading that side (no pongs): ?side=source|destination[&on=0]
    const bool source = query.starts_with("side=source");
    if (!source && !query.starts_with("side=destination"))
      return {http::status::bad_request, json::object{{"error", "side=source|destination"}}};
    t.of(source ? role::source : role::destination).frozen = query.find("on=0") == std::string_view::npos;
    return {};
  }
  if (action == "session-reset") {
    for (role r : {role::source, role::destination})
      if (auto& c = t.of(r).connection) send_session_reset(*c);
    t.streams.clear();
    return {};
  }
  if (action == "reframe") {
    t.reframe = query == "on=1";
    return {};
  }
  if (action == "reset-on-connect") {
    t.reset_on_connect = query == "on=1";
    return {};
  }
  return not_found();
}

reply route(const http::request<http::string_body>& req, registry& tunnels, server& relay_server) {
  std::string_view target = req.target();
  const auto q = target.find('?');
  const auto query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  const auto path = target.substr(0, q);
  if (path == "/tunnels" && req.method() == http::verb::post) return open_tunnel(req.body(), tunnels);
  if (path == "/stats" && req.method() == http::verb::get) {
    std::uint64_t bytes = 0;
    for (const auto& [id, t] : tunnels.all()) bytes += t->source.bytes + t->destination.bytes;
    return {http::status::ok, json::object{{"tunnels", tunnels.all().size()}, {"bytesRelayed", bytes}}};
  }
  if (!path.starts_with("/tunnels/")) return not_found();
  auto rest = path.substr(9);
  const auto slash = rest.find('/');
  auto t = tunnels.find(std::string(rest.substr(0, slash)));
  if (!t) return not_found();
  return tunnel_action(*t, req.method(), slash == std::string_view::npos ? std::string_view{} : rest.substr(slash + 1),
                       query, tunnels, relay_server);
}

asio::awaitable<void> serve(asio::ip::tcp::socket socket, registry& tunnels, server& relay_server) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request<http::string_body> req;
    stream.expires_after(std::chrono::seconds(30));
    auto [ec, n] = co_await http::async_read(stream, buffer, req, asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    auto r = route(req, tunnels, relay_server);
    http::response<http::string_body> res{r.status, req.version()};
    res.set(http::field::content_type, "application/json");
    res.keep_alive(req.keep_alive());
    res.body() = json::serialize(r.body);
    res.prepare_payload();
    auto [wec, wn] = co_await http::async_write(stream, res, asio::as_tuple(asio::use_awaitable));
    if (wec || !req.keep_alive()) co_return;
  }
}

}  // namespace

asio::awaitable<void> api_loop(asio::ip::tcp::acceptor& acceptor, registry& tunnels, server& relay_server) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted) co_return;
    if (!ec) asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), tunnels, relay_server), asio::detached);
  }
}

}  // namespace tunnel_service
