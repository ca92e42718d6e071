#pragma once
#include <stdexcept>

namespace localproxy::config {

// Thrown for every bad input; what() is one line naming the option (or file and line) and what
// is expected. Never contains a token or password.
class usage_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace localproxy::config
