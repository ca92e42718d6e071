// argv (+ --config file + environment) -> parse_result. Boost.Program_options only splits argv;
// every value is a string checked by our own code, so no Boost message can quote a secret.
#include "localproxy/config/command_line.hpp"

#include <set>

#include <boost/program_options.hpp>

#include "layers.hpp"
#include "localproxy/config/settings_json.hpp"
#include "localproxy/config/validation.hpp"
#include "option_table.hpp"

namespace localproxy::config {
namespace {

namespace po = boost::program_options;

po::options_description describe() {
  po::options_description d;
  for (const auto& o : option_table::all()) {
    std::string spec(o.name);
    if (o.short_name) {
      spec += ',';
      spec += o.short_name;
    }
    if (o.arg.empty())
      d.add_options()(spec.c_str(), "");
    else if (o.arg.starts_with('['))  // an optional value: `--stdio` or `--stdio SSH`
      d.add_options()(spec.c_str(), po::value<std::string>()->implicit_value(""), "");
    else if (o.repeatable)
      d.add_options()(spec.c_str(), po::value<std::vector<std::string>>(), "");
    else
      d.add_options()(spec.c_str(), po::value<std::string>(), "");
  }
  return d;
}

std::string first_line(std::string s) { return s.substr(0, s.find('\n')); }

// Boost takes an optional value only as `--stdio=SSH`: a word right after the option is its value.
// (Nor does it see a second `--stdio` without a value.)
void take_optional_values(po::parsed_options& parsed) {
  auto& all = parsed.options;
  std::set<std::string> seen;
  for (std::size_t i = 0; i < all.size(); ++i) {
    const auto* o = option_table::find(all[i].string_key);
    if (!o || !o->arg.starts_with('[')) continue;
    if (!seen.insert(all[i].string_key).second) throw usage_error(option_table::display(o->name) + ": given more than once");
    const bool bare = all[i].original_tokens.size() == 1 && all[i].original_tokens[0].find('=') == std::string::npos;
    if (!bare || i + 1 == all.size() || !all[i + 1].string_key.empty()) continue;
    all[i].value = all[i + 1].value;
    all[i].original_tokens.push_back(all[i + 1].original_tokens.front());
    all.erase(all.begin() + static_cast<std::ptrdiff_t>(i) + 1);
  }
}

// Boost fills its message templates by replacing each `%name%` until none is left, so a value that
// itself holds `%original_token%` (or `%value%`, ...) is replaced forever and the process hangs,
// growing. Found by fuzzing (`--d=%original_token%`). Percent-encoding every '%' in the values
// first leaves no placeholder in them: no name starts with "25".
struct placeholder_values : po::error_with_option_name {
  static void defuse(po::error& e) {
    auto* named = dynamic_cast<po::error_with_option_name*>(&e);
    if (!named) return;
    for (auto& [name, value] : named->*(&placeholder_values::m_substitutions))
      for (auto at = value.find('%'); at != std::string::npos; at = value.find('%', at + 3))
        value.replace(at, 1, "%25");
  }
};

// Boost's messages name the option but not always in our words; never pass on the raw text of an
// unrecognised argument, which could be a token typed in the wrong place.
[[noreturn]] void translate(po::error& e) {
  if (const auto* m = dynamic_cast<const po::multiple_occurrences*>(&e))
    throw usage_error(m->get_option_name() + ": given more than once");
  if (const auto* u = dynamic_cast<const po::unknown_option*>(&e)) {
    const auto name = u->get_option_name();
    throw usage_error("unknown option " + name.substr(0, name.find('=')) + " (see --help)");
  }
  if (const auto* a = dynamic_cast<const po::ambiguous_option*>(&e)) {
    // Boost quotes the whole `--c=VALUE`, and the value may be a token.
    const auto name = a->get_option_name();
    std::string message = "option " + name.substr(0, name.find('=')) + " is ambiguous: it may be";
    const auto& alternatives = a->alternatives();
    for (std::size_t i = 0; i < alternatives.size(); ++i)
      message += (i == 0 ? " --" : i + 1 == alternatives.size() ? " or --" : ", --") + alternatives[i];
    throw usage_error(message);
  }
  placeholder_values::defuse(e);
  throw usage_error(first_line(e.what()));
}

po::variables_map parse_argv(int argc, const char* const argv[]) {
  po::variables_map vm;
  try {
    const auto description = describe();  // `parsed` points into it
    auto parsed = po::command_line_parser(argc, argv).options(description).run();
    take_optional_values(parsed);
    // Boost keeps arguments without an option name and store() drops them silently; a value
    // with no option is almost always a mistake (and may be a token: never quote it).
    for (const auto& o : parsed.options)
      if (o.string_key.empty())
        throw usage_error("unexpected argument without an option name (every value needs its option, see --help)");
    po::store(parsed, vm);
  } catch (po::error& e) {
    translate(e);
  }
  return vm;
}

layer cli_layer(const po::variables_map& vm) {
  layer out;
  for (const auto& o : option_table::all()) {
    const std::string name(o.name);
    if (!vm.count(name)) continue;
    const auto what = option_table::display(name);
    if (o.arg.empty())
      out.add(name, "true", what);
    else if (o.repeatable)
      for (const auto& v : vm[name].as<std::vector<std::string>>()) out.add(name, v, what);
    else
      out.add(name, vm[name].as<std::string>(), what);
  }
  return out;
}

parse_result resolve(const layers& in, const environment& env) {
  parse_result result;
  auto& opts = result.opts;
  if (const auto* v = in.pick("settings-json")) load_settings(v->value, opts.tunables);
  resolve_mode_and_mappings(in, opts, result.warnings);
  resolve_local(in, opts);
  resolve_endpoint(in, opts, result.warnings);
  resolve_tokens(in, opts, result.warnings);
  resolve_web_proxy(in, env, opts, result.warnings);
  return result;
}

parse_result parse(int argc, const char* const argv[], const environment& env) {
  const auto vm = parse_argv(argc, argv);
  parse_result result;
  if (vm.count("help")) {
    result.what = parse_result::action::help;
    result.text = option_table::help_text();
    return result;
  }
  if (vm.count("version")) {
    result.what = parse_result::action::version;  // main prints it: it names the libraries linked
    return result;
  }
  if (vm.count("export-default-settings")) {
    result.what = parse_result::action::export_settings;
    result.export_path = vm["export-default-settings"].as<std::string>();
    if (result.export_path.empty()) throw usage_error("--export-default-settings: expected a file name");
    return result;
  }
  if (vm.count("health")) {
    result.what = parse_result::action::health;
    result.health_path = vm["health"].as<std::string>();
    if (result.health_path.empty()) throw usage_error("--health: expected a status file name");
    if (vm.count("health-max-age"))
      result.health_max_age_s = parse_integer(vm["health-max-age"].as<std::string>(), 1, 86400 * 7, "--health-max-age");
    return result;
  }
  if (vm.count("health-max-age")) throw usage_error("--health-max-age: only valid with --health");
  layers in;
  in.cli = cli_layer(vm);
  if (const auto* config = in.cli.get("config")) in.file = read_config_layer(config->value);
  in.env = environment_layer(env);
  return resolve(in, env);
}

}  // namespace

parse_result parse_command_line(int argc, const char* const argv[], const environment& env) {
  try {
    return parse(argc, argv, env);
  } catch (const usage_error&) {
    throw;
  } catch (po::error& e) {
    translate(e);
  } catch (const std::exception& e) {
    // Not expected; still one line, and still exit status 2 rather than a crash.
    throw usage_error("cannot read the configuration: " + first_line(e.what()));
  }
}

}  // namespace localproxy::config
