// Tokens and the options that only concern this machine: logging, bind address, CAs, -y, --metrics.
#include <filesystem>
#include <optional>

#include "host_port.hpp"
#include "layers.hpp"
#include "localproxy/config/token_file.hpp"
#include "localproxy/config/validation.hpp"

namespace localproxy::config {

namespace {

struct picked_token {
  std::string value;
  token_origin origin;
};

// A token is given either as a value (`-t`, a variable) or as a file (`--access-token-file`, a
// systemd credential); the highest level that has either decides, both at one level is an error.
std::optional<picked_token> pick_token(const layers& in, const std::string& value_option,
                                       const std::string& file_option) {
  for (const layer* l : {&in.cli, &in.file, &in.env}) {
    const auto* value = l->get(value_option);
    const auto* file = l->get(file_option);
    if (value && file) throw usage_error(value->what + " and " + file->what + ": give only one");
    if (value) return picked_token{value->value, token_origin{{}, true, value->what}};
    // Only systemd credentials come as files from the environment level; systemd guards those.
    if (file) {
      token_origin origin{file->value, l != &in.env, file->what};
      return picked_token{read_token_file(origin.file, file->what, origin.require_private), std::move(origin)};
    }
  }
  return std::nullopt;
}

}  // namespace

void resolve_tokens(const layers& in, options& out, std::vector<std::string>& warnings) {
  const auto token = pick_token(in, "access-token", "access-token-file");
  if (!token)
    throw usage_error("access token: none given (set AWSIOT_TUNNEL_ACCESS_TOKEN, or use --access-token-file or "
                      "-t/--access-token)");
  check_access_token(token->value, token->origin.describe());
  out.access_token = token->value;
  out.access_token_origin = token->origin;
  if (in.cli.has("access-token"))
    warnings.push_back("-t/--access-token: a token on the command line is visible to other users of this machine; "
                       "use --access-token-file or set AWSIOT_TUNNEL_ACCESS_TOKEN instead");
  if (const auto client = pick_token(in, "client-token", "client-token-file")) {
    check_client_token(client->value, client->origin.describe());
    out.client_token = client->value;
    out.client_token_origin = client->origin;
  }
}

void resolve_local(const layers& in, options& out) {
  if (const auto* v = in.pick("verbose")) out.verbosity = static_cast<int>(parse_integer(v->value, 0, 255, v->what));
  else if (out.stdio()) out.verbosity = 3;  // quiet under ssh: warnings and errors only
  if (const auto* f = in.pick("log-format")) {
    out.log_format = log::parse_format(f->value);
    if (!out.log_format) throw usage_error(f->what + ": expected plain, journal or json");
  }
  if (const auto* b = in.pick("local-bind-address")) {
    for (char c : b->value)
      if (static_cast<unsigned char>(c) <= 0x20) throw usage_error(b->what + ": expected an address or host name");
    if (b->value.empty()) throw usage_error(b->what + ": expected an address or host name");
    out.bind_address = b->value;
  }
  if (const auto* c = in.pick("capath")) {
    std::error_code ec;
    if (!std::filesystem::is_directory(c->value, ec)) throw usage_error(c->what + ": " + c->value + " is not a directory");
    out.capath = c->value;
  }
  if (const auto* f = in.pick("status-file")) {
    if (f->value.empty()) throw usage_error(f->what + ": expected a file name");
    const auto dir = std::filesystem::path(f->value).parent_path();
    std::error_code ec;
    if (!dir.empty() && !std::filesystem::is_directory(dir, ec))
      throw usage_error(f->what + ": the directory " + dir.string() + " does not exist");
    out.status_file = f->value;
  }
  if (const auto* m = in.pick("metrics")) {
    const bool port_only = !m->value.empty() && m->value.find_first_not_of("0123456789") == std::string::npos;
    const auto hp = port_only ? host_port{"127.0.0.1", m->value} : split_host_port(m->value, m->what);
    if (!hp.port) throw usage_error(m->what + ": expected [HOST:]PORT");
    out.metrics_host = hp.host;
    out.metrics_port = static_cast<std::uint16_t>(parse_integer(*hp.port, 1, 65535, m->what));
  }
  if (const auto* k = in.pick("no-ssl-host-verify")) out.verify_ssl = k->value != "true";
  if (const auto* y = in.pick("destination-client-type")) {
    if (y->value == "V1" || y->value == "v1") out.destination_client_type = 1;
    else if (y->value == "V2" || y->value == "v2") out.destination_client_type = 2;
    else throw usage_error(y->what + ": expected V1 or V2");
  }
}

}  // namespace localproxy::config
