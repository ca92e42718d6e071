#pragma once
// Tokens from files (--access-token-file, --client-token-file, systemd credentials) and the
// removal of token variables from the process environment once they have been read.
#include <string>

#include "localproxy/config/options.hpp"
#include "localproxy/config/usage_error.hpp"

namespace localproxy::config {

// Reads a token from `path`, trailing CR/LF stripped. Throws usage_error naming `what` and
// the file (never its content) when the file is missing, unreadable, not a regular file, empty,
// over 8 KiB, or (when require_private) readable by group or others. systemd's credential files
// are 0440 in a directory only the service can enter, so they are read with require_private off.
[[nodiscard]] std::string read_token_file(const std::string& path, const std::string& what, bool require_private = true);

// SIGHUP, or the service refusing the token: the token read again from the file it came from
// (origin.reloadable()) and checked as at start-up. Throws usage_error as read_token_file does.
[[nodiscard]] std::string reread_access_token(const token_origin& origin);
[[nodiscard]] std::string reread_client_token(const token_origin& origin);

// The variables a token may come from (AWSIOT_TUNNEL_ACCESS_TOKEN, AWSIOT_TUNNEL_CLIENT_TOKEN,
// AWSIOT_CLIENT_TOKEN): their values are overwritten in place and the variables removed, so that
// neither getenv nor /proc/PID/environ shows them afterwards. Call after parsing, before threads.
void remove_token_variables();

}  // namespace localproxy::config
