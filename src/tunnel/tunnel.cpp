#include "localproxy/tunnel/tunnel.hpp"

#include "localproxy/tunnel/process_memory.hpp"

#include <unistd.h>

#include <cstdio>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "localproxy/config/token_file.hpp"
#include "localproxy/log/log.hpp"
#include "localproxy/tunnel/service_manager.hpp"
#include "localproxy/tunnel/service_plan.hpp"
#include "localproxy/tunnel/session.hpp"
#include "localproxy/version.hpp"

namespace localproxy::tunnel {

namespace asio = boost::asio;
using std::chrono::milliseconds;

std::string random_client_token(std::mt19937_64& rng) {
  std::uniform_int_distribution<unsigned> hex(0, 15);
  std::string token;
  for (int i = 0; i < 32; ++i) {
    if (i == 8 || i == 12 || i == 16 || i == 20) token += '-';
    token += "0123456789abcdef"[hex(rng)];
  }
  return token;
}

transport::websocket_target make_target(const config::options& opts, const std::string& access_token,
                                        const std::string& client_token) {
  const auto& s = opts.tunables;
  transport::websocket_target t;
  t.host = opts.endpoint.host;
  t.port = opts.endpoint.port;
  t.tls = opts.endpoint.tls;
  t.target = std::string("/tunnel?local-proxy-mode=") +
             (opts.mode == config::proxy_mode::source ? "source" : "destination");
  t.headers.emplace_back("access-token", access_token);
  if (!client_token.empty()) t.headers.emplace_back("client-token", client_token);
  t.subprotocol = s.subprotocol;
  t.user_agent = std::string("localproxy/") + localproxy::version + " (Linux; C++20; Boost.Beast)";
  t.step_timeout = milliseconds(s.handshake_timeout_ms);
  t.tls_settings.verify = opts.verify_ssl;
  t.tls_settings.capath = opts.capath;
  t.max_message_size = s.max_frame_size;
  t.write_buffer_size = s.write_buffer_size;
  // Each step touches code it alone needs (the resolver, the handshake's cryptography): given back
  // before the next, so that the resident set never holds all of them at once.
  t.after_step = [](std::string_view step) { release_startup_pages(step); };
  if (opts.proxy) {
    transport::http_proxy p;
    p.host = opts.proxy->host;
    p.port = opts.proxy->port;
    p.tls = opts.proxy->tls;
    p.user = opts.proxy->user;
    p.password = opts.proxy->password;
    t.proxy = p;
  }
  return t;
}

namespace {
std::string initial_client_token(const config::options& opts, std::mt19937_64& rng) {
  if (!opts.client_token.empty()) return opts.client_token;
  if (!opts.tunables.generate_client_token) return {};
  auto token = random_client_token(rng);
  log::add_secret(token);
  return token;
}

protocol::endpoint_role role_of(const config::options& o) {
  return o.mode == config::proxy_mode::source ? protocol::endpoint_role::source : protocol::endpoint_role::destination;
}

wire_format initial_format(const config::options& o) {
  if (o.destination_client_type == 1) return wire_format::v1;
  if (o.destination_client_type == 2) return wire_format::v2;
  return wire_format::v3;
}

std::mt19937_64 seeded_rng() {
  std::random_device device;
  std::seed_seq seed{device(), device(), device(), device()};
  return std::mt19937_64(seed);
}
}  // namespace

tunnel_context::tunnel_context(asio::io_context& ioc, const config::options& opts)
    : ioc_(ioc),
      opts_(opts),
      table_(role_of(opts), initial_format(opts), opts.destination_client_type != 3),
      listeners_(ioc.get_executor(),
                 [this](const std::string& id, local_stream stream, const std::string& peer) {
                   on_accept(id, std::move(stream), peer);
                 }),
      ready_(ioc.get_executor()),
      stopping_(ioc.get_executor()),
      rng_(seeded_rng()),
      backoff_(milliseconds(opts.tunables.retry_delay_ms), milliseconds(opts.tunables.retry_delay_max_ms),
               opts.tunables.connect_retry_count) {
  access_token_ = opts.access_token;
  client_token_ = initial_client_token(opts, rng_);
  target_ = make_target(opts, access_token_, client_token_);
  auto inherited = service_manager::take_listeners();
  if (opts.mode == config::proxy_mode::source) {
    listeners_.set_inherited(std::move(inherited));
    listeners_.set_unix_socket_mode(static_cast<mode_t>(std::stoul(opts.tunables.unix_socket_mode, nullptr, 8)));
    // --stdio: the one connection is over, and so is the proxy (run() tells a clean end from a lost tunnel).
    listeners_.set_stdio_end([this] { stop(); });
  } else if (!inherited.empty()) {
    LP_LOG(warning) << "Ignoring " << inherited.size() << " socket-activated listener(s): only a source listens";
    for (const auto& l : inherited) ::close(l.fd);
  }
}

tunnel_context::~tunnel_context() = default;

void tunnel_context::apply_services(const std::optional<std::vector<std::string>>& ids) {
  if (services_unchanged(ids)) return;
  auto plan = plan_services(opts_.mode, opts_.mappings, ids);
  for (const auto& w : plan.warnings) LP_LOG(warning) << w;
  if (services_applied_) LP_LOG(warning) << "The tunnel's services changed; applying the new list";
  // The session ended every live connection first (and told the peer): the entries they pointed
  // to are replaced now.
  table_.set_services(std::move(plan.services));
  if (opts_.mode == config::proxy_mode::source) {
    const auto& bind = opts_.bind_address.empty() ? opts_.tunables.default_bind_address : opts_.bind_address;
    listeners_.apply(table_.services(), bind);
  } else {
    for (const auto& s : table_.services())
      LP_LOG(info) << "Service " << (s.id.empty() ? std::string("(unnamed)") : s.id) << " -> "
                   << (s.mapping.unix_path.empty() ? (s.mapping.host.empty() ? std::string("localhost") : s.mapping.host) +
                                                         ":" + std::to_string(s.mapping.port)
                                                   : s.mapping.unix_path);
  }
  service_ids_ = ids;
  services_applied_ = true;
}

void tunnel_context::on_accept(const std::string& service_id, local_stream stream, const std::string& peer) {
  if (session_ && session_->services_known()) {
    session_->adopt(service_id, std::move(stream), peer);
    return;
  }
  asio::co_spawn(ioc_, hand_over(service_id, std::move(stream), peer), asio::detached);
}

asio::awaitable<void> tunnel_context::hand_over(std::string service_id, local_stream stream, std::string peer) {
  const auto wait = milliseconds(opts_.tunables.pending_connection_timeout_ms);
  LP_LOG(info) << "Tunnel not connected; connection from " << peer << " waits up to " << wait.count() << " ms";
  const auto deadline = std::chrono::steady_clock::now() + wait;
  while (!(session_ && session_->services_known()) && !stop_requested_ && std::chrono::steady_clock::now() < deadline)
    co_await ready_.wait_until(deadline);
  if (session_ && session_->services_known() && !stop_requested_) {
    session_->adopt(service_id, std::move(stream), peer);
    co_return;
  }
  // Turned away like a client over tcp.max_active_connections: counted where the metrics see it
  // (a service the tunnel has not named yet has no entry to count in).
  if (auto* service = table_.find(service_id)) ++service->counters.refused;
  if (stop_requested_)
    LP_LOG(info) << "Closing connection from " << peer << ": the proxy is stopping";
  else
    LP_LOG(warning) << "Closing connection from " << peer << ": the tunnel did not come back within " << wait.count()
                    << " ms";
}

void tunnel_context::stop() {
  if (stop_requested_) return;
  stop_requested_ = true;
  LP_LOG(info) << "Stopping";
  service_manager::notify_stopping();
  listeners_.close_all();
  if (session_) session_->stop();
  stopping_.notify();
  ready_.notify();
}

std::optional<tunnel_context::token_pair> tunnel_context::reread_tokens(const char* why) {
  try {
    token_pair fresh{config::reread_access_token(opts_.access_token_origin), client_token_};
    if (opts_.client_token_origin.reloadable()) fresh.client = config::reread_client_token(opts_.client_token_origin);
    return fresh;
  } catch (const std::exception& e) {
    LP_LOG(error) << why << ": " << e.what() << "; keeping the current token";
    return std::nullopt;
  }
}

void tunnel_context::use_tokens(const token_pair& tokens) {
  log::add_secret(tokens.access);
  log::add_secret(tokens.client);
  access_token_ = tokens.access;
  client_token_ = tokens.client;
  target_ = make_target(opts_, access_token_, client_token_);
}

bool tunnel_context::token_file_changed(const token_pair& used) {
  if (!opts_.access_token_origin.reloadable()) return false;
  const auto fresh = reread_tokens("The service refused the token and its file cannot be read again");
  if (!fresh) return false;
  if (*fresh == used) {
    LP_LOG(info) << "The service refused the token; " << opts_.access_token_origin.describe() << " still holds it";
    return false;
  }
  LP_LOG(info) << "The service refused the token; " << opts_.access_token_origin.describe()
               << " holds a new one (rotated): retrying with it at once";
  use_tokens(*fresh);
  return true;
}

void tunnel_context::reload() {
  if (stop_requested_) return;
  if (ready_sent_) service_manager::notify_reloading();  // before READY=1 systemd is still starting us
  const auto& origin = opts_.access_token_origin;
  if (!origin.reloadable()) {
    LP_LOG(warning) << "Reload (SIGHUP): the access token was given by " << origin.describe()
                    << " and cannot be reloaded; give it with --access-token-file to rotate it without a restart";
    end_reload("reload: nothing to reload");
    return;
  }
  const auto fresh = reread_tokens("Reload (SIGHUP)");
  if (!fresh) {
    end_reload("reload failed: token file unusable, kept the current token");
    return;
  }
  if (*fresh == token_pair{access_token_, client_token_}) {
    std::size_t connections = 0;
    for (const auto& service : table_.services()) connections += service.connections.size();
    LP_LOG(info) << "Reload (SIGHUP): the token in " << origin.describe() << " is unchanged; "
                 << (session_ ? "the tunnel and its " + std::to_string(connections) + " connection(s) stay up"
                              : std::string("nothing to do"));
    end_reload("reload: token unchanged");
    return;
  }
  LP_LOG(info) << "Reload (SIGHUP): " << origin.describe() << " holds a new token; reconnecting with it";
  use_tokens(*fresh);
  reload_pending_ = true;
  reconnect_requested_ = true;
  if (session_) session_->stop();
  stopping_.notify();  // a wait before a retry ends now: the next attempt uses the new token
}

void tunnel_context::end_reload(const std::string& what) {
  reload_pending_ = false;
  if (!ready_sent_) return;
  // STATUS= keeps saying how the tunnel is, with what the reload did.
  const auto now = session_ ? "connected to " + opts_.endpoint.url() + ", channel-id " + channel_id_
                            : "not connected: " + last_error_;
  service_manager::notify_ready(now + " (" + what + ")");
}

}  // namespace localproxy::tunnel
