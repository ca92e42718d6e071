#pragma once
// The settings file: the reference localproxy's JSON layout (keys under tunneling.proxy.), with
// numbers accepted as JSON numbers or numeric strings (the reference writes strings) and booleans
// as true/false or "true"/"false". A file merges over what is already there.
#include <string>

#include "localproxy/config/settings.hpp"
#include "localproxy/config/usage_error.hpp"

namespace localproxy::config {

// Reads FILE and merges it over `into`. Throws usage_error naming the file and key, e.g.
// "settings file x.json: tunneling.proxy.tcp.max_active_connections: expected an integer from 1 to 65535".
void load_settings(const std::string& path, settings& into);
// Same, from JSON text (`origin` names it in errors).
void load_settings_text(const std::string& text, const std::string& origin, settings& into);

// Real JSON numbers and booleans, pretty-printed, ending in a newline; load_settings reads it back
// to the same settings.
[[nodiscard]] std::string settings_to_json(const settings& s);
// Writes the settings as JSON to path. Throws usage_error on I/O failure.
void export_settings(const settings& s, const std::string& path);

}  // namespace localproxy::config
