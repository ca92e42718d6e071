#pragma once
// The raw option values from each source, before precedence is applied. Each value remembers how
// to name itself in an error ("--region", "config file f line 3: region", "AWSIOT_TUNNEL_REGION").
#include <map>
#include <string>
#include <vector>

#include "localproxy/config/command_line.hpp"

namespace localproxy::config {

struct raw_value {
  std::string value;
  std::string what;
};

struct layer {
  std::map<std::string, std::vector<raw_value>> values;  // long option name -> values in order

  [[nodiscard]] bool has(const std::string& name) const { return values.count(name) != 0; }
  [[nodiscard]] const raw_value* get(const std::string& name) const {
    const auto it = values.find(name);
    return it == values.end() ? nullptr : &it->second.front();
  }
  void add(const std::string& name, std::string value, std::string what) {
    values[name].push_back(raw_value{std::move(value), std::move(what)});
  }
};

// Highest precedence first: command line, --config file, environment.
struct layers {
  layer cli, file, env;

  [[nodiscard]] const raw_value* pick(const std::string& name) const {
    for (const layer* l : {&cli, &file, &env})
      if (const auto* v = l->get(name)) return v;
    return nullptr;
  }
};

// command_line.cpp: the --config file as a layer.
[[nodiscard]] layer read_config_layer(const std::string& path);
// command_line.cpp: the environment variables as a layer (https_proxy before HTTPS_PROXY).
[[nodiscard]] layer environment_layer(const environment& env);

// resolve_*.cpp: the steps that turn the layers into options.
void resolve_mode_and_mappings(const layers& in, options& out, std::vector<std::string>& warnings);
void resolve_endpoint(const layers& in, options& out, std::vector<std::string>& warnings);
void resolve_web_proxy(const layers& in, const environment& env, options& out, std::vector<std::string>& warnings);
void resolve_tokens(const layers& in, options& out, std::vector<std::string>& warnings);
void resolve_local(const layers& in, options& out);

}  // namespace localproxy::config
