#pragma once
// Captures what the stderr sink writes (it writes to std::clog) for the life of the object.
#include <iostream>
#include <sstream>
#include <string>

namespace log_test {

class clog_capture {
 public:
  clog_capture() : old_(std::clog.rdbuf(out_.rdbuf())) {}
  ~clog_capture() { std::clog.rdbuf(old_); }
  clog_capture(const clog_capture&) = delete;
  clog_capture& operator=(const clog_capture&) = delete;
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::streambuf* old_;
};

}  // namespace log_test
