#pragma once
// --stdio: a source runs once per ssh connection, and the service takes a single-use access token
// again only with the client token it was first used with. So the client token made on first use
// is kept in a private file named by the SHA-256 of the access token (never the token itself),
// and every later run with that access token reconnects as the same client.
#include <string>
#include <vector>

#include "localproxy/config/command_line.hpp"

namespace localproxy::config {

// $XDG_RUNTIME_DIR/localproxy, or ~/.cache/localproxy when XDG_RUNTIME_DIR is unset; empty when
// neither that nor a home directory is known.
[[nodiscard]] std::string client_token_cache_dir(const environment& env);

// The client token kept in `dir` for `access_token`, or a new one, kept there first (mode 0600, in
// a directory of mode 0700, made if need be; a run that starts at the same moment keeps the first
// one written). Whatever keeps it from being kept goes to `warnings`; the token is still returned.
[[nodiscard]] std::string remembered_client_token(const std::string& dir, const std::string& access_token,
                                                  std::vector<std::string>& warnings);

}  // namespace localproxy::config
