// --log-format: plain (UTC ISO 8601 time), journal (<N> priorities), json (one object a line),
// and redaction in each.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iomanip>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "clog_capture.hpp"
#include "localproxy/log/log.hpp"

namespace lg = localproxy::log;
using log_test::clog_capture;

namespace {

class LogFormat : public ::testing::Test {
 protected:
  void TearDown() override {
    lg::clear_secrets();
    lg::init(4, lg::format::plain);
  }
};

// Points stderr at a fresh temporary file while it lives (JOURNAL_STREAM is compared with it).
class stderr_to_file {
 public:
  stderr_to_file() : saved_(::dup(STDERR_FILENO)) {
    char path[] = "/tmp/log-format-test-XXXXXX";
    const int fd = ::mkstemp(path);
    ::unlink(path);
    ::dup2(fd, STDERR_FILENO);
    ::close(fd);
  }
  ~stderr_to_file() {
    ::dup2(saved_, STDERR_FILENO);
    ::close(saved_);
  }
  [[nodiscard]] std::string journal_stream() const {
    struct stat st{};
    ::fstat(STDERR_FILENO, &st);
    return std::to_string(st.st_dev) + ":" + std::to_string(st.st_ino);
  }

 private:
  int saved_;
};

}  // namespace

TEST_F(LogFormat, PlainTimeIsUtcIso8601WithZ) {
  // Far from UTC: a local time would be nine hours off.
  const char* old_tz = std::getenv("TZ");
  const std::string saved = old_tz ? old_tz : "";
  ::setenv("TZ", "Asia/Tokyo", 1);
  ::tzset();
  clog_capture cap;
  lg::init(4, lg::format::plain);
  const auto before = std::time(nullptr);
  LP_LOG(warning) << "careful";
  if (old_tz) ::setenv("TZ", saved.c_str(), 1);
  else ::unsetenv("TZ");
  ::tzset();
  std::smatch m;
  const auto text = cap.text();
  ASSERT_TRUE(std::regex_match(text, m,
                               std::regex(R"(\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.\d{6}Z\] \[warning\] careful\n)")))
      << text;
  std::tm tm{};
  ASSERT_NE(strptime(m[1].str().c_str(), "%Y-%m-%dT%H:%M:%S", &tm), nullptr);
  const auto logged = timegm(&tm);
  EXPECT_LE(std::abs(logged - before), 3600) << "not UTC: " << text;
}

TEST_F(LogFormat, JournalLinesCarryTheSyslogPriorityAndNoTime) {
  clog_capture cap;
  lg::init(6, lg::format::journal);
  LP_LOG(fatal) << "f";
  LP_LOG(error) << "e";
  LP_LOG(warning) << "w";
  LP_LOG(info) << "i";
  LP_LOG(debug) << "d";
  LP_LOG(trace) << "t";
  LP_LOG(error) << "two\nlines";
  EXPECT_EQ(cap.text(), "<2>f\n<3>e\n<4>w\n<6>i\n<7>d\n<7>t\n<3>two\n<3>lines\n");
}

TEST_F(LogFormat, JsonLinesAreObjectsWithEscapedMessages) {
  clog_capture cap;
  lg::init(4, lg::format::json);
  LP_LOG(error) << "say \"hi\" \\ tab\there\nnext \x01 \xC3\xA9 bad \xFF\xC3 end";
  const auto text = cap.text();
  const std::regex line(
      R"rx(\{"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z","level":"error","message":"(.*)"\}\n)rx");
  std::smatch m;
  ASSERT_TRUE(std::regex_match(text, m, line)) << text;
  EXPECT_EQ(m[1].str(), "say \\\"hi\\\" \\\\ tab\\there\\nnext \\u0001 \xC3\xA9 bad \xEF\xBF\xBD\xEF\xBF\xBD end");
}

TEST_F(LogFormat, JsonStringRejectsOverlongAndSurrogateForms) {
  EXPECT_EQ(lg::json_string("\xC0\xAF"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\"");          // overlong '/'
  EXPECT_EQ(lg::json_string("\xED\xA0\x80"), "\"\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\"");  // a surrogate
  EXPECT_EQ(lg::json_string("\xF0\x9F\x98\x80"), "\"\xF0\x9F\x98\x80\"");          // U+1F600 stays
  EXPECT_EQ(lg::json_string(""), "\"\"");
}

TEST_F(LogFormat, SecretsAreBlankedInEveryFormat) {
  for (const auto f : {lg::format::plain, lg::format::journal, lg::format::json}) {
    clog_capture cap;
    lg::init(4, f);
    lg::add_secret("AQGAAXi-access-token-value");
    lg::add_secret("pw");
    LP_LOG(info) << "token \"AQGAAXi-access-token-value\" proxy user:pw@host";
    const auto text = cap.text();
    EXPECT_EQ(text.find("access-token-value"), std::string::npos) << text;
    EXPECT_EQ(text.find(":pw@"), std::string::npos) << text;
    EXPECT_NE(text.find("****"), std::string::npos) << text;
  }
}

TEST_F(LogFormat, DefaultIsJournalOnlyForTheStreamJournalStreamNames) {
  stderr_to_file redirected;
  ::unsetenv("JOURNAL_STREAM");
  EXPECT_EQ(lg::default_format(), lg::format::plain);
  ::setenv("JOURNAL_STREAM", redirected.journal_stream().c_str(), 1);
  EXPECT_EQ(lg::default_format(), lg::format::journal);
  ::setenv("JOURNAL_STREAM", "1:2", 1);  // inherited, but stderr is not that stream any more
  EXPECT_EQ(lg::default_format(), lg::format::plain);
  ::setenv("JOURNAL_STREAM", "garbage", 1);
  EXPECT_EQ(lg::default_format(), lg::format::plain);
  ::unsetenv("JOURNAL_STREAM");
}

TEST_F(LogFormat, FormatNames) {
  EXPECT_EQ(lg::parse_format("plain"), lg::format::plain);
  EXPECT_EQ(lg::parse_format("journal"), lg::format::journal);
  EXPECT_EQ(lg::parse_format("json"), lg::format::json);
  EXPECT_FALSE(lg::parse_format("JSON"));
  EXPECT_FALSE(lg::parse_format(""));
}

// Every line is composed in one stream the thread keeps (log.hpp): what one line did to it must
// not show in the next.
TEST_F(LogFormat, AManipulatorInOneLineDoesNotCarryOverToTheNext) {
  clog_capture cap;
  lg::init(4, lg::format::journal);
  LP_LOG(info) << std::hex << std::showbase << std::uppercase << 255 << ' ' << std::setw(6) << std::setfill('*') << 1
               << ' ' << std::fixed << std::setprecision(2) << 1.5 << ' ' << std::boolalpha << true;
  LP_LOG(info) << 255 << ' ' << 1 << ' ' << 1.5 << ' ' << true;
  EXPECT_EQ(cap.text(), "<6>0XFF ***0X1 1.50 true\n<6>255 1 1.5 1\n");
}

namespace {
std::string logs_while_described(int n) {
  LP_LOG(warning) << "inner " << n;
  return "described " + std::to_string(n);
}
}  // namespace

TEST_F(LogFormat, ALineLoggedWhileAnotherIsComposedComesOutWhole) {
  clog_capture cap;
  lg::init(4, lg::format::journal);
  LP_LOG(info) << "outer " << 1 << ", " << logs_while_described(2) << ", end";
  LP_LOG(info) << "after";
  EXPECT_EQ(cap.text(), "<4>inner 2\n<6>outer 1, described 2, end\n<6>after\n");
}

TEST_F(LogFormat, LinesFromManyThreadsComeOutWhole) {
  clog_capture cap;
  lg::init(4, lg::format::journal);
  constexpr int threads = 4, lines = 200;
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t)
    pool.emplace_back([t] {
      for (int i = 0; i < lines; ++i) LP_LOG(info) << "thread " << t << " line " << i << " end";
    });
  for (auto& t : pool) t.join();
  std::istringstream in(cap.text());
  std::set<std::string> seen;
  for (std::string line; std::getline(in, line);) {
    EXPECT_TRUE(std::regex_match(line, std::regex(R"(<6>thread \d line \d+ end)"))) << line;
    seen.insert(line);
  }
  EXPECT_EQ(seen.size(), static_cast<std::size_t>(threads * lines));
}

TEST_F(LogFormat, TheTimeOfDayFollowsTheClock) {
  // The date and time of day are formatted once a second and kept: a line a second later must
  // not show the kept one.
  const auto first = lg::utc_timestamp();
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));
  const auto second = lg::utc_timestamp();
  const std::regex form(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z)");
  ASSERT_TRUE(std::regex_match(first, form)) << first;
  ASSERT_TRUE(std::regex_match(second, form)) << second;
  EXPECT_NE(first.substr(0, 19), second.substr(0, 19));
  std::tm tm{};
  ASSERT_NE(strptime(second.substr(0, 19).c_str(), "%Y-%m-%dT%H:%M:%S", &tm), nullptr);
  EXPECT_LE(std::abs(timegm(&tm) - std::time(nullptr)), 2) << second;
}

TEST_F(LogFormat, ALongLineAndTheLinesAfterItComeOutWhole) {
  // The thread gives back the buffers of a line longer than it keeps (log.cpp): the next lines
  // are composed in fresh ones.
  clog_capture cap;
  lg::init(4, lg::format::journal);
  const std::string long_text(100000, 'a');
  LP_LOG(info) << long_text;
  LP_LOG(info) << "short " << 1;
  LP_LOG(info) << "short " << 2;
  EXPECT_EQ(cap.text(), "<6>" + long_text + "\n<6>short 1\n<6>short 2\n");
}
