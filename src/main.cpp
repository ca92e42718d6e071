// localproxy: parse -> configure logging -> run -> exit code (README: Exit statuses).
#include <chrono>
#include <exception>
#include <iostream>
#include <optional>

#include "localproxy/build_info.hpp"
#include "localproxy/config/command_line.hpp"
#include "localproxy/config/token_file.hpp"
#include "localproxy/log/log.hpp"
#include "localproxy/tunnel/status_file.hpp"
#include "localproxy/tunnel/tunnel.hpp"

namespace {

using namespace localproxy;

int run(int argc, char** argv) {
  auto parsed = config::parse_command_line(argc, argv, config::process_environment());
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
  const auto& opts = parsed.opts;
  log::add_secret(opts.access_token);
  log::add_secret(opts.client_token);
  if (opts.proxy) log::add_secret(opts.proxy->password);
  log::init(opts.verbosity, opts.log_format.value_or(log::default_format()));
  LP_LOG(info) << tunnel::startup_line(opts);
  for (const auto& warning : parsed.warnings) LP_LOG(warning) << warning;
  return tunnel::run_tunnel(opts);
}

}  // namespace

int main(int argc, char** argv) {
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
