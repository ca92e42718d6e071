// The tunnel's life: connect, run a session, decide from how it ended whether to reconnect, and
// map the end to the exit status.
#include <csignal>
#include <functional>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "localproxy/log/log.hpp"
#include "localproxy/tunnel/process_memory.hpp"
#include "localproxy/tunnel/service_manager.hpp"
#include "localproxy/tunnel/session.hpp"
#include "localproxy/tunnel/tunnel.hpp"

namespace localproxy::tunnel {

namespace asio = boost::asio;
using std::chrono::milliseconds;

namespace {
constexpr int exit_ok = 0;
constexpr int exit_runtime = 1;
constexpr int exit_config = 2;
constexpr int exit_rejected = 3;

std::string likely_cause(const transport::connect_failure& f) {
  if (f.kind == transport::failure_kind::proxy_rejected)
    return f.http_status == 407 || f.http_status == 401 ? "the web proxy wants (other) credentials"
                                                         : "the web proxy refused the connection";
  switch (f.http_status) {
    case 400: return "bad request: check the mode and the subprotocol setting";
    case 401:
    case 403:
      return "the access token is wrong, expired or already used (without the same client token it works once), "
             "or it is for the other mode or another region";
    case 404: return "wrong endpoint or region";
    default: return "the service refused the request";
  }
}

std::string http_suffix(const transport::connect_failure& f) {
  return f.http_status ? " (HTTP " + std::to_string(f.http_status) + ")" : std::string();
}
}  // namespace

std::string tunnel_context::failure_line(const transport::connect_failure& f, int attempt) const {
  auto line = "Could not connect to " + opts_.endpoint.url() + " (attempt " + std::to_string(attempt) + "): " + f.message;
  if (f.kind == transport::failure_kind::dns && opts_.proxy)
    line += ". Likely cause: the web proxy's host name does not resolve. Try: check --web-proxy or HTTPS_PROXY "
            "(and no_proxy), and the machine's DNS";
  else if (f.kind == transport::failure_kind::dns)
    line += ". Likely cause: the host name does not resolve: a typo in -r/--region or -e/--proxy-endpoint, no DNS "
            "on this machine, or a network that reaches the internet only through a web proxy. Try: check the "
            "region or give the endpoint with -e; if there is a web proxy, give it with --web-proxy or HTTPS_PROXY";
  if (f.kind == transport::failure_kind::certificate)
    line += ". Likely cause: the certificate is not trusted: the service's CA is not in the system store, -e "
            "names another host, or a web proxy inspects TLS. Try: -c DIR with the CA certificate (a hashed "
            "directory, see c_rehash), check -e, or trust the web proxy's CA with -c";
  return line;
}

asio::awaitable<std::unique_ptr<transport::websocket_connection>> tunnel_context::connect(int& exit_status) {
  for (int attempt = 1; !stop_requested_; ++attempt) {
    reconnect_requested_ = false;
    const token_pair used{access_token_, client_token_};
    LP_LOG(info) << "Connecting to " << opts_.endpoint.url() << " (attempt " << attempt << ")";
    transport::connect_failure failure;
    auto ws = co_await transport::connect_websocket(target_, failure);
    if (stop_requested_) co_return nullptr;
    if (ws) {
      LP_LOG(info) << "Successfully established websocket connection with proxy server: " << opts_.endpoint.url();
      LP_LOG(info) << "Web socket session ID: " << ws->channel_id();
      channel_id_ = ws->channel_id();
      certificate_failures_ = 0;
      co_return ws;
    }
    last_error_ = "could not connect to " + opts_.endpoint.url() + ": " + failure.message + http_suffix(failure);
    ++counters_.handshake_failures[failure.http_status];
    if (!failure.retryable()) {
      // After RotateTunnelAccessToken the service drops both ends and refuses the old token: the
      // file may already hold the new one.
      if ((failure.http_status == 401 || failure.http_status == 403) && token_file_changed(used)) continue;
      LP_LOG(error) << "Connection rejected: " << failure.message << http_suffix(failure)
                    << (failure.channel_id.empty() ? std::string() : ", channel-id " + failure.channel_id)
                    << ". Likely cause: " << likely_cause(failure) << ". Not retrying.";
      last_error_ = "connection rejected: " + failure.message + http_suffix(failure);
      exit_status = exit_rejected;
      co_return nullptr;
    }
    if (reload_pending_) end_reload("reloaded");
    certificate_failures_ = failure.kind == transport::failure_kind::certificate ? certificate_failures_ + 1 : 0;
    const auto limit = opts_.tunables.certificate_failure_limit;
    if (limit > 0 && certificate_failures_ >= limit) {
      // Not a network blip: retrying cannot make the certificate trusted.
      LP_LOG(error) << failure_line(failure, attempt) << ". Not retrying: " << certificate_failures_
                    << " certificate failures in a row (websocket.certificate_failure_limit = " << limit << ")";
      exit_status = exit_rejected;
      co_return nullptr;
    }
    const auto delay = backoff_.next(rng_);
    if (!delay) {
      LP_LOG(error) << failure_line(failure, attempt) << ". Giving up: the retry budget "
                    << "(websocket.connect_retry_count = " << opts_.tunables.connect_retry_count << ") is spent";
      exit_status = exit_runtime;
      co_return nullptr;
    }
    LP_LOG(warning) << failure_line(failure, attempt) << ". Reconnecting in " << delay->count() << " ms";
    set_state(state_ == tunnel_state::connecting ? tunnel_state::connecting : tunnel_state::reconnecting,
              "retrying in " + std::to_string(delay->count()) + " ms: " + last_error_);
    co_await stopping_.wait_until(std::chrono::steady_clock::now() + *delay);
  }
  co_return nullptr;
}

asio::awaitable<int> tunnel_context::run() {
  // Everything local is checked before the first handshake: a mistake must not spend the token.
  if (opts_.mode == config::proxy_mode::source) {
    try {
      listeners_.open_early(opts_.mappings,
                            opts_.bind_address.empty() ? opts_.tunables.default_bind_address : opts_.bind_address);
    } catch (const std::exception& e) {
      LP_LOG(error) << e.what() << " (nothing was sent to the service: the access token is still unused)";
      co_return exit_config;
    }
  }
  if (companion_) {
    try {
      companion_state_ = companion_(*this);
    } catch (const std::exception& e) {
      LP_LOG(error) << e.what() << " (nothing was sent to the service: the access token is still unused)";
      co_return exit_config;
    }
  }
  asio::co_spawn(ioc_, status_loop(), asio::detached);
  if (const auto period = service_manager::watchdog_period()) asio::co_spawn(ioc_, watchdog_loop(*period), asio::detached);
  set_state(tunnel_state::connecting, "connecting to " + opts_.endpoint.url());
  for (;;) {
    int exit_status = exit_ok;
    auto ws = co_await connect(exit_status);
    if (!ws) co_return exit_status;
    ++counters_.sessions;
    backoff_.reset();
    session_ = std::make_shared<tunnel_session>(*this, std::move(ws));
    const auto end = co_await session_->run();
    end_session();
    if (end.what != session_end::kind::stopped && end.what != session_end::kind::closed_by_service)
      last_error_ = end.detail;
    switch (end.what) {
      case session_end::kind::stopped:
        if (stop_requested_ || !reconnect_requested_) co_return exit_ok;
        break;  // a reload ended the session to reconnect with a new token
      case session_end::kind::closed_by_service:
        LP_LOG(info) << "The service closed the tunnel" << (end.detail.empty() ? "" : ": " + end.detail);
        co_return exit_ok;
      case session_end::kind::mapping_error:
        LP_LOG(error) << end.detail;
        co_return exit_config;
      case session_end::kind::protocol_error:
        LP_LOG(error) << "Protocol error from the service: " << end.detail;
        if (!opts_.tunables.reconnect_on_data_error) co_return exit_runtime;
        break;
      case session_end::kind::lost: LP_LOG(warning) << "Connection to the service lost: " << end.detail; break;
    }
    if (listeners_.stdio_handed_over()) {
      LP_LOG(error) << "The stdin/stdout connection ended with the connection to the service; not reconnecting";
      co_return exit_runtime;
    }
    if (stop_requested_) co_return exit_ok;
    set_state(tunnel_state::reconnecting, "connection lost: " + end.detail);
    // A short pause so that a service that drops every connection at once cannot spin us.
    co_await stopping_.wait_until(std::chrono::steady_clock::now() + milliseconds(100));
    if (stop_requested_) co_return exit_ok;
  }
}

namespace {

// Once a second: above resident_ceiling, the pages of code and constants touched once since the
// last look go back (process_memory.hpp); a page needed again returns from the page cache.
asio::awaitable<void> keep_resident_set_small() {
  asio::steady_timer tick(co_await asio::this_coro::executor);
  for (;;) {
    tick.expires_after(std::chrono::seconds(1));
    const auto [ec] = co_await tick.async_wait(asio::as_tuple(asio::use_awaitable));
    if (ec) co_return;
    const std::size_t before = resident_bytes();
    if (before <= resident_ceiling) continue;
    const auto released = release_startup_memory();
    LP_LOG(trace) << "Resident " << before / 1024 << " KiB, above " << resident_ceiling / 1024 << " KiB: released "
                  << released.mapped_bytes / 1024 << " KiB of pages touched once";
  }
}

}  // namespace

int run_tunnel(const config::options& opts, const companion& beside) {
  // Start-up in steps, each releasing what it alone touched before the next adds its own, so that
  // the resident set never holds all of them at once: the configuration (the dynamic loader,
  // option parsing), TLS (OpenSSL's initialisation, the CA store), and the connect and handshake
  // (released once the tunnel is up, tunnel_context::session_ready).
  release_startup_pages("the configuration read");
  transport::prepare_tls({opts.verify_ssl, opts.capath});
  release_startup_pages("TLS set up");
  asio::io_context ioc(1);
  tunnel_context context(ioc, opts);
  context.run_beside(beside);
  if (!opts.verify_ssl)
    LP_LOG(warning) << "TLS certificate verification is OFF (-k): anyone on the path can impersonate the service";
  int exit_status = exit_runtime;
  // A write to a pipe whose reader is gone (stdout under --stdio) fails with EPIPE instead.
  std::signal(SIGPIPE, SIG_IGN);
  asio::signal_set signals(ioc, SIGINT, SIGTERM);
  // ssh ends its ProxyCommand with SIGHUP once it is done with it.
  if (opts.stdio()) signals.add(SIGHUP);
  asio::steady_timer grace(ioc);
  // Otherwise SIGHUP reloads the token files (README: Rotating the access token).
  asio::signal_set hangup(ioc);
  std::function<void(boost::system::error_code, int)> on_hangup = [&](boost::system::error_code ec, int) {
    if (ec) return;
    context.reload();
    hangup.async_wait(on_hangup);
  };
  if (!opts.stdio()) {
    hangup.add(SIGHUP);
    hangup.async_wait(on_hangup);
  }
  signals.async_wait([&](boost::system::error_code ec, int) {
    if (ec) return;
    hangup.cancel();
    context.stop();
    exit_status = exit_ok;
    // Whatever the WebSocket close does, the process ends within a second.
    grace.expires_after(milliseconds(700));
    grace.async_wait([&](boost::system::error_code e) {
      if (!e) ioc.stop();
    });
  });
  asio::co_spawn(ioc, keep_resident_set_small(), asio::detached);
  asio::co_spawn(ioc, context.run(), [&](std::exception_ptr error, int status) {
    if (error) {
      try {
        std::rethrow_exception(error);
      } catch (const std::exception& e) {
        LP_LOG(fatal) << "Unexpected failure: " << e.what();
      }
      status = exit_runtime;
    }
    exit_status = status;
    ioc.stop();
  });
  ioc.run();
  context.finish(exit_status);
  return exit_status;
}

}  // namespace localproxy::tunnel
