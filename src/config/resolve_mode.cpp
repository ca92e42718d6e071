// Mode and service mappings: -s/-d/-m from one precedence level, then --config-dir.
#include <algorithm>
#include <optional>

#include "layers.hpp"
#include "localproxy/config/config_files.hpp"
#include "localproxy/config/mappings.hpp"
#include "localproxy/config/validation.hpp"

namespace localproxy::config {
namespace {

// -s, -d, --stdio and -m decide together: taking -s from the command line and -d from a --config
// file would build a configuration nobody wrote, so the highest level that has any of them wins whole.
const layer* mode_level(const layers& in) {
  for (const layer* l : {&in.cli, &in.file})
    if (l->has("source-listen-port") || l->has("destination-app") || l->has("mode") || l->has("stdio")) return l;
  return nullptr;
}

std::optional<proxy_mode> explicit_mode(const layer& l) {
  const auto* m = l.get("mode");
  if (!m) return std::nullopt;
  if (m->value == "src" || m->value == "source") return proxy_mode::source;
  if (m->value == "dst" || m->value == "destination") return proxy_mode::destination;
  throw usage_error(m->what + ": expected src, source, dst or destination");
}

proxy_mode decide_mode(const layer& l) {
  const bool s = l.has("source-listen-port"), d = l.has("destination-app");
  const auto m = explicit_mode(l);
  if (const auto* io = l.get("stdio")) {
    if (s || d)
      throw usage_error(io->what + " and " + l.get(s ? "source-listen-port" : "destination-app")->what +
                        ": give only one (--stdio carries the one connection instead of listening)");
    if (m == proxy_mode::destination) throw usage_error(l.get("mode")->what + ": says destination but --stdio is for source mode");
    return proxy_mode::source;
  }
  if (s && d)
    throw usage_error(l.get("source-listen-port")->what + " and " + l.get("destination-app")->what +
                      ": give only one (source or destination mode)");
  if (s && m == proxy_mode::destination)
    throw usage_error(l.get("mode")->what + ": says destination but " + l.get("source-listen-port")->what +
                      " is for source mode");
  if (d && m == proxy_mode::source)
    throw usage_error(l.get("mode")->what + ": says source but " + l.get("destination-app")->what +
                      " is for destination mode");
  if (s) return proxy_mode::source;
  if (d) return proxy_mode::destination;
  return *m;
}

std::vector<service_mapping> from_level(const layer& l, proxy_mode mode) {
  if (const auto* io = l.get("stdio")) {
    service_mapping m;
    if (!io->value.empty()) check_service_id(io->value, io->what);
    m.service_id = io->value;
    m.stdio = true;
    return {m};
  }
  const auto* values = [&]() -> const std::vector<raw_value>* {
    const auto it = l.values.find(mode == proxy_mode::source ? "source-listen-port" : "destination-app");
    return it == l.values.end() ? nullptr : &it->second;
  }();
  std::vector<service_mapping> out;
  if (!values) return out;
  for (const auto& v : *values) {
    auto more = parse_mappings(v.value, mode, v.what);
    out.insert(out.end(), more.begin(), more.end());
  }
  check_unique_services(out, values->front().what);
  return out;
}

// Config-dir entries fill in services the command line does not map; a single unnamed mapping
// (`-s 5555`) already stands for the tunnel's one service, so nothing is added to it, and the
// default ./config is not even read (like the reference, which reads it only for services
// without a mapping).
void add_config_dir(const layers& in, options& out, std::vector<std::string>& notes) {
  const auto* dir = in.pick("config-dir");
  const bool unnamed = std::any_of(out.mappings.begin(), out.mappings.end(),
                                   [](const auto& m) { return m.service_id.empty(); });
  if (unnamed && !dir) return;
  const auto from_dir = read_config_dir(dir ? dir->value : "./config", out.mode, dir != nullptr, notes);
  if (unnamed) {
    if (!from_dir.empty()) notes.push_back("mappings in the config directory ignored: the command line maps one unnamed service");
    return;
  }
  for (const auto& m : from_dir) {
    const bool mapped = std::any_of(out.mappings.begin(), out.mappings.end(),
                                    [&](const auto& c) { return c.service_id == m.service_id; });
    if (!mapped) out.mappings.push_back(m);
  }
}

}  // namespace

void resolve_mode_and_mappings(const layers& in, options& out, std::vector<std::string>& warnings) {
  const auto* level = mode_level(in);
  if (!level)
    throw usage_error("-s/--source-listen-port, -d/--destination-app or -m/--mode: one is required (source or "
                      "destination mode)");
  out.mode = decide_mode(*level);
  out.mappings = from_level(*level, out.mode);
  if (out.stdio()) return;  // one connection, for one service: nothing to add from a directory
  add_config_dir(in, out, warnings);
  if (out.mappings.empty())
    throw usage_error(std::string(out.mode == proxy_mode::source ? "-s/--source-listen-port" : "-d/--destination-app") +
                      ": at least one mapping is required (none given, none in the config directory)");
}

}  // namespace localproxy::config
