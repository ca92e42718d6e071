#pragma once
// Logging facade. Kept free of Boost.Log headers so that including it costs nothing;
// the records go to Boost.Log in src/log/log.cpp, after secrets are scrubbed.
#include <optional>
#include <sstream>
#include <string>
#include <string_view>

namespace localproxy::log {

enum class level : int { off = 0, fatal = 1, error = 2, warning = 3, info = 4, debug = 5, trace = 6 };

// How a line is written to stderr:
//   plain    [2026-12-02T09:15:02.123456Z] [info] text   (UTC, ISO 8601)
//   journal  <6>text   (a syslog priority for journald, which adds its own time; journalctl -p works)
//   json     {"time":"2026-12-02T09:15:02.123456Z","level":"info","message":"text"}
enum class format { plain, journal, json };
[[nodiscard]] std::optional<format> parse_format(std::string_view name);  // "plain", "journal", "json"
// journal when stderr is the stream systemd connected to the journal (JOURNAL_STREAM names its
// device and inode; a terminal or a redirected stderr does not match), plain otherwise.
[[nodiscard]] format default_format();

// Installs the stderr sink. verbosity: 0 = nothing, 1 fatal ... 6 trace, anything above 6 = trace.
void init(int verbosity, format f = default_format());
void set_verbosity(int verbosity);
void set_format(format f);
// The syslog priority of a level (journal format): fatal 2 (crit), error 3, warning 4, info 6,
// debug and trace 7.
[[nodiscard]] int syslog_priority(level l) noexcept;
// A string as a JSON string literal, quotes included: control characters escaped, invalid UTF-8
// replaced by U+FFFD, so that every line parses.
[[nodiscard]] std::string json_string(std::string_view text);
// The current time as 2026-12-02T09:15:02.123456Z.
[[nodiscard]] std::string utc_timestamp();
[[nodiscard]] bool enabled(level l) noexcept;
[[nodiscard]] std::string_view level_name(level l) noexcept;

// A secret (token, password) registered here is replaced by "****" in every record before it
// is written, at every level: the one place that keeps secrets out of logs. A secret of 16
// characters or more is replaced wherever it appears, even inside other text; a shorter one only
// where it stands as a whole token, between the ends of the text or characters other than letters,
// digits, '-', '_' and UTF-8 bytes (so white space, quotes, = : , ; & / ? @ ...). A password "abc"
// is scrubbed from "user:abc@host" and "token=abc" but leaves "abcdef" and "tabcd" whole.
void add_secret(std::string_view secret);
void clear_secrets();
[[nodiscard]] std::string redact(std::string text);

// One log line; written when it goes out of scope. The text goes into the thread's one reusable
// stream: a std::ostringstream made for each line would set up its locale every time, which costs
// more than the rest of the line. A record opened while another is being composed on the same
// thread (a function in a log expression that logs) gets a stream of its own.
class record {
 public:
  explicit record(level l);
  record(const record&) = delete;
  record& operator=(const record&) = delete;
  ~record();
  std::ostream& stream() { return *os_; }

 private:
  level level_;
  std::ostringstream* os_;
  std::optional<std::ostringstream> own_;  // only for a record nested in another
};

}  // namespace localproxy::log

// LP_LOG(info) << "text"; the stream expression is not evaluated when the level is off. (A for
// statement rather than if/else, so that `if (x) LP_LOG(info) << ...;` has no dangling else.)
#define LP_LOG(lvl)                                                                               \
  for (bool lp_log_once = ::localproxy::log::enabled(::localproxy::log::level::lvl); lp_log_once; \
       lp_log_once = false)                                                                       \
  ::localproxy::log::record(::localproxy::log::level::lvl).stream()
