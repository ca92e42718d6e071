#pragma once
#include <stdexcept>
#include <string>

namespace localproxy::config {

// Thrown for every bad input; what() is one line naming the option (or file and line) and what
// is expected. Never contains a token or password.
class usage_error : public std::runtime_error {
 public:
  // The message is one line whatever the input it quotes: control characters are written as
  // \n, \t or \xHH.
  explicit usage_error(const std::string& message) : std::runtime_error(one_line(message)) {}

  [[nodiscard]] static std::string one_line(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (const char c : text) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '\n') {
        out += "\\n";
      } else if (c == '\t') {
        out += "\\t";
      } else if (u < 0x20 || u == 0x7f) {
        static constexpr char hex[] = "0123456789abcdef";
        out += "\\x";
        out += hex[u >> 4];
        out += hex[u & 15];
      } else {
        out += c;
      }
    }
    return out;
  }
};

}  // namespace localproxy::config
