// localproxy: parse -> configure logging -> run -> exit code (README: Exit statuses).
#include <chrono>
#include <csignal>
#include <exception>
#include <iostream>
#include <optional>

#include "localproxy/build_info.hpp"
#include "localproxy/config/client_token_cache.hpp"
#include "localproxy/config/command_line.hpp"
#include "localproxy/config/token_file.hpp"
#include "localproxy/log/log.hpp"
#include "localproxy/metrics/metrics_server.hpp"
#include "localproxy/tunnel/process_memory.hpp"
#include "localproxy/tunnel/status_file.hpp"
#include "localproxy/tunnel/tunnel.hpp"

namespace {

using namespace localproxy;

int run(int argc, char** argv) {
  // What the dynamic loader and the static initialisers touched goes back before option parsing
  // adds its own (run_tunnel releases at the next steps, with a debug line once logging is set).
  tunnel::release_startup_memory();
  const auto env = config::process_environment();
  auto parsed = config::parse_command_line(argc, argv, env);
  config::remove_token_variables();  // read once; no child or /proc/PID/environ reader sees them
  switch (parsed.what) {
    case config::parse_result::action::help: std::cout << parsed.text << std::flush; return 0;
    case config::parse_result::action::version: std::cout << version_text("localproxy") << std::flush; return 0;
    case config::parse_result::action::export_settings:
      config::export_settings(config::settings{}, parsed.export_path);
      std::cout << "Default settings written to " << parsed.export_path << "\n";
      return 0;
    case config::parse_result::action::health: {
      std::optional<std::chrono::seconds> max_age;
      if (parsed.health_max_age_s) max_age = std::chrono::seconds(*parsed.health_max_age_s);
      const auto verdict = tunnel::check_health(parsed.health_path, max_age, std::chrono::system_clock::now());
      (verdict.healthy ? std::cout : std::cerr) << "localproxy: " << (verdict.healthy ? "healthy: " : "unhealthy: ")
                                                << verdict.reason << "\n";
      return verdict.healthy ? 0 : 1;
    }
    case config::parse_result::action::run: break;
  }
  auto& opts = parsed.opts;
  // --stdio runs once per ssh connection: each run must reconnect as the client the access token
  // was first used by (an explicit client token, or none wanted, is left alone).
  if (opts.stdio() && opts.client_token.empty() && opts.tunables.generate_client_token)
    opts.client_token =
        config::remembered_client_token(config::client_token_cache_dir(env), opts.access_token, parsed.warnings);
  log::add_secret(opts.access_token);
  log::add_secret(opts.client_token);
  if (opts.proxy) log::add_secret(opts.proxy->password);
  log::init(opts.verbosity, opts.log_format.value_or(log::default_format()));
  LP_LOG(info) << tunnel::startup_line(opts);
  for (const auto& warning : parsed.warnings) LP_LOG(warning) << warning;
  if (opts.metrics_port == 0) return tunnel::run_tunnel(opts);
  return tunnel::run_tunnel(opts, [&opts](tunnel::tunnel_context& tunnel) -> std::shared_ptr<void> {
    return metrics::metrics_server::open(tunnel.executor(), opts.metrics_host, opts.metrics_port,
                                         [&tunnel] { return tunnel.metrics(); });
  });
}

}  // namespace

int main(int argc, char** argv) {
  // A reload (SIGHUP) that comes while starting must not end the process; once running, the
  // tunnel handles it (README: Rotating the access token).
  std::signal(SIGHUP, SIG_IGN);
  try {
    return run(argc, argv);
  } catch (const localproxy::config::usage_error& e) {
    std::cerr << "localproxy: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "localproxy: " << e.what() << "\n";
    return 1;
  }
}
