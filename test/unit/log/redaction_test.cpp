#include "localproxy/log/log.hpp"

#include <gtest/gtest.h>

#include <iostream>
#include <sstream>

namespace lg = localproxy::log;

namespace {
// Captures what the stderr sink writes (it writes to std::clog).
class clog_capture {
 public:
  clog_capture() : old_(std::clog.rdbuf(out_.rdbuf())) {}
  ~clog_capture() { std::clog.rdbuf(old_); }
  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::streambuf* old_;
};
}  // namespace

TEST(Log, FormatAndLevels) {
  clog_capture cap;
  lg::init(4);
  LP_LOG(info) << "hello " << 42;
  LP_LOG(debug) << "not shown";
  const auto text = cap.text();
  EXPECT_NE(text.find("] [info] hello 42\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("not shown"), std::string::npos);
  EXPECT_EQ(text[0], '[');
  EXPECT_EQ(text[5], '-');  // [YYYY-MM-DD HH:MM:SS.ffffff]
  EXPECT_EQ(text[27], ']');
}

TEST(Log, VerbosityAboveSixIsTraceAndZeroIsOff) {
  clog_capture cap;
  lg::init(200);
  LP_LOG(trace) << "trace line";
  lg::set_verbosity(0);
  LP_LOG(fatal) << "fatal line";
  EXPECT_NE(cap.text().find("trace line"), std::string::npos);
  EXPECT_EQ(cap.text().find("fatal line"), std::string::npos);
}

TEST(Log, SecretsNeverReachALine) {
  clog_capture cap;
  lg::init(6);
  lg::add_secret("AQGAAXi-access-token-value");
  lg::add_secret("0123456789abcdef0123456789abcdef");
  LP_LOG(trace) << "token=AQGAAXi-access-token-value client 0123456789abcdef0123456789abcdef end";
  LP_LOG(error) << "xAQGAAXi-access-token-valueAQGAAXi-access-token-valuex";
  const auto text = cap.text();
  EXPECT_EQ(text.find("access-token-value"), std::string::npos) << text;
  EXPECT_EQ(text.find("0123456789abcdef0123456789abcdef"), std::string::npos) << text;
  EXPECT_NE(text.find("token=**** client **** end"), std::string::npos) << text;
  EXPECT_NE(text.find("x********x"), std::string::npos) << text;
  lg::clear_secrets();
}
