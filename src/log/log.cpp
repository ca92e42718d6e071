#include "localproxy/log/log.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <iostream>
#include <utility>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

#include <boost/core/null_deleter.hpp>
#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/log/sinks/text_ostream_backend.hpp>
#include <boost/log/attributes/attribute_value_impl.hpp>
#include <boost/log/sources/severity_logger.hpp>

namespace localproxy::log {

namespace {

namespace bl = boost::log;

std::atomic<int> current_level{static_cast<int>(level::info)};
std::atomic<format> current_format{format::plain};
std::vector<std::string> secrets;
bool sink_installed = false;
// The attribute Boost.Log keeps a record's text in (what expressions::smessage reads).
const bl::attribute_name message_name("Message");


void install_sink() {
  using backend_t = bl::sinks::text_ostream_backend;
  auto backend = boost::make_shared<backend_t>();
  backend->add_stream(boost::shared_ptr<std::ostream>(&std::clog, boost::null_deleter()));
  backend->auto_flush(true);
  // record::~record() ends each line itself, so that a line leaves in one write(2): with the
  // backend's own newline it would be two, a second system call per log line.
  backend->set_auto_newline_mode(bl::sinks::auto_newline_mode::disabled_auto_newline);
  auto sink = boost::make_shared<bl::sinks::synchronous_sink<backend_t>>(backend);
  // The line prefix is built in record::~record(); the sink writes it as it is.
  sink->set_formatter(bl::expressions::stream << bl::expressions::smessage);
  bl::core::get()->add_sink(sink);
  sink_installed = true;
}

// A secret this long is scrubbed wherever it appears, even inside other text: it cannot be a piece
// of an ordinary word by chance. A shorter one (a proxy password, a test token) is scrubbed only
// where it stands as a whole token, so that the password "abc" leaves "abcdef" alone.
constexpr std::size_t embedded_secret_min = 16;

// A character that continues a word or a value: letters, digits, '-', '_' and the bytes of
// UTF-8 sequences. Anything else (white space, quotes, = : , ; & / ? @ # brackets ...) ends it.
bool word_char(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
         static_cast<unsigned char>(c) >= 0x80;
}

bool standalone(const std::string& text, std::size_t pos, std::size_t size) noexcept {
  const bool starts = pos == 0 || !word_char(text[pos - 1]);
  const bool ends = pos + size == text.size() || !word_char(text[pos + size]);
  return starts && ends;
}

// The length of the valid UTF-8 sequence that starts `s` (its first byte is 0x80 or more), or 0
// (no overlong forms, no surrogates, nothing above U+10FFFF).
std::size_t utf8_sequence_length(std::string_view s) noexcept {
  const auto b = [&](std::size_t i) { return static_cast<unsigned char>(s[i]); };
  const auto cont = [&](std::size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  const unsigned char c = b(0);
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if ((c == 0xE0 && b(1) < 0xA0) || (c == 0xED && b(1) >= 0xA0)) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if ((c == 0xF0 && b(1) < 0x90) || (c == 0xF4 && b(1) >= 0x90)) return 0;
    return 4;
  }
  return 0;
}

int clamp_verbosity(int v) { return std::clamp(v, 0, static_cast<int>(level::trace)); }

}  // namespace

namespace {

// "2026-12-02T09:15:02.123456Z" into out (27 characters); the date and time of day are formatted
// once per second, the microseconds every time.
std::size_t format_timestamp(char (&out)[32]) {
  thread_local std::time_t cached_second = -1;
  thread_local char cached[20];  // "2026-12-02T09:15:02"
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  if (t != cached_second) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    if (std::strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S", &tm) != sizeof cached - 1) return 0;
    cached_second = t;
  }
  auto micros = static_cast<unsigned>(
      std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000);
  std::memcpy(out, cached, sizeof cached - 1);
  char* p = out + sizeof cached - 1;
  *p++ = '.';
  for (int i = 5; i >= 0; --i, micros /= 10) p[i] = static_cast<char>('0' + micros % 10);
  p += 6;
  *p++ = 'Z';
  return static_cast<std::size_t>(p - out);
}

}  // namespace

std::string utc_timestamp() {
  char text[32];
  return std::string(text, format_timestamp(text));
}

std::optional<format> parse_format(std::string_view name) {
  if (name == "plain") return format::plain;
  if (name == "journal") return format::journal;
  if (name == "json") return format::json;
  return std::nullopt;
}

format default_format() {
  // systemd sets JOURNAL_STREAM=DEVICE:INODE for a service whose stderr goes to the journal. A
  // child that inherited the variable but writes elsewhere (a shell's 2>file) must not get
  // prefixes, so the stream itself is compared, as systemd.exec(5) recommends.
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (!stream || isatty(STDERR_FILENO)) return format::plain;
  struct stat st{};
  if (fstat(STDERR_FILENO, &st) != 0) return format::plain;
  unsigned long long device = 0, inode = 0;
  char extra = 0;
  if (std::sscanf(stream, "%llu:%llu%c", &device, &inode, &extra) != 2) return format::plain;
  return device == static_cast<unsigned long long>(st.st_dev) && inode == static_cast<unsigned long long>(st.st_ino)
             ? format::journal
             : format::plain;
}

void init(int verbosity, format f) {
  if (!sink_installed) install_sink();
  set_verbosity(verbosity);
  set_format(f);
}

void set_format(format f) { current_format = f; }

int syslog_priority(level l) noexcept {
  switch (l) {
    case level::fatal: return 2;
    case level::error: return 3;
    case level::warning: return 4;
    case level::info: return 6;
    case level::debug:
    case level::trace:
    case level::off: break;
  }
  return 7;
}

std::string json_string(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '"';
  for (std::size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      char esc[8];
      std::snprintf(esc, sizeof esc, "\\u%04x", c);
      out += esc;
    } else if (c < 0x80) {
      out += static_cast<char>(c);
    } else {
      const auto n = utf8_sequence_length(text.substr(i));
      if (n == 0) {
        out += "\xEF\xBF\xBD";  // U+FFFD for a byte that starts no valid sequence
        ++i;
        continue;
      }
      out.append(text.substr(i, n));
      i += n;
      continue;
    }
    ++i;
  }
  out += '"';
  return out;
}

void set_verbosity(int verbosity) { current_level = clamp_verbosity(verbosity); }

bool enabled(level l) noexcept {
  return l != level::off && static_cast<int>(l) <= current_level.load(std::memory_order_relaxed);
}

std::string_view level_name(level l) noexcept {
  switch (l) {
    case level::fatal: return "fatal";
    case level::error: return "error";
    case level::warning: return "warning";
    case level::info: return "info";
    case level::debug: return "debug";
    case level::trace: return "trace";
    case level::off: break;
  }
  return "off";
}

void add_secret(std::string_view secret) {
  if (secret.empty()) return;
  if (std::find(secrets.begin(), secrets.end(), secret) != secrets.end()) return;
  secrets.emplace_back(secret);
}

void clear_secrets() { secrets.clear(); }

std::string redact(std::string text) {
  if (secrets.empty()) return text;
  // Every occurrence of every secret in the original text, as [begin, end) ranges; overlapping
  // ones are merged so that no piece of either secret survives (replacing one secret after
  // another could leave the tail of the second).
  std::vector<std::pair<std::size_t, std::size_t>> hits;
  for (const auto& secret : secrets) {
    const bool anywhere = secret.size() >= embedded_secret_min;
    for (auto pos = text.find(secret); pos != std::string::npos; pos = text.find(secret, pos + 1))
      if (anywhere || standalone(text, pos, secret.size())) hits.emplace_back(pos, pos + secret.size());
  }
  if (hits.empty()) return text;
  std::sort(hits.begin(), hits.end());
  std::string scrubbed;
  scrubbed.reserve(text.size());
  std::size_t from = 0;
  for (std::size_t i = 0; i < hits.size();) {
    auto [begin, end] = hits[i];
    for (++i; i < hits.size() && hits[i].first < end; ++i) end = std::max(end, hits[i].second);
    scrubbed.append(text, from, begin - from).append("****");
    from = end;
  }
  scrubbed.append(text, from, std::string::npos);
  return scrubbed;
}

namespace {

// The stream a thread composes its log lines in, kept from one line to the next, and whether a
// line is being composed in it now.
struct line_stream {
  std::ostringstream stream;
  bool busy = false;
};

// What a thread keeps of the buffers of its longest line: a rare long one (a trace of a large
// frame) is not held for the life of the process.
constexpr std::size_t kept_line_bytes = 4096;

line_stream& this_thread_stream() {
  thread_local line_stream s;
  return s;
}

// `open` time `middle` level `close`: the prefix of a plain line and of a JSON one.
void append_time_and_level(std::string& line, std::string_view open, std::string_view middle, level l,
                           std::string_view close) {
  char stamp[32];
  line += open;
  line.append(stamp, format_timestamp(stamp));
  line += middle;
  line += level_name(l);
  line += close;
}

// A stream as a fresh one starts: a manipulator one line used (std::hex, a width) must not carry
// over to the next.
void reset_format(std::ostream& os) {
  os.flags(std::ios_base::dec | std::ios_base::skipws);
  os.precision(6);
  os.width(0);
  os.fill(' ');
  os.clear();
}

}  // namespace

record::record(level l) : level_(l) {
  auto& shared = this_thread_stream();
  if (shared.busy) {
    os_ = &own_.emplace();
    return;
  }
  shared.busy = true;
  os_ = &shared.stream;
  reset_format(*os_);
}

record::~record() {
  // The text leaves the stream without a copy, and its storage goes back for the next line.
  std::string text = std::move(*os_).str();
  const bool shared = !own_;
  const auto give_back = [&](std::string storage) {
    if (!shared) return;
    storage.clear();
    if (storage.capacity() > kept_line_bytes) storage.shrink_to_fit();
    os_->str(std::move(storage));
    this_thread_stream().busy = false;
  };
  if (!sink_installed) install_sink();
  static bl::sources::severity_logger<level> logger;
  auto rec = logger.open_record(bl::keywords::severity = level_);
  if (!rec) {
    give_back(std::move(text));
    return;
  }
  text = redact(std::move(text));  // before any formatting: no format may show a secret
  // The whole line is put together here and handed to Boost.Log in one piece.
  thread_local std::string line;
  line.clear();
  switch (current_format.load(std::memory_order_relaxed)) {
    case format::plain:
      append_time_and_level(line, "[", "] [", level_, "] ");
      line += text;
      break;
    case format::journal: {
      // journald takes each line as an entry of its own: each gets the priority.
      char prefix[8];  // not "<" + to_string() + ">": GCC 12 reports a false -Wrestrict on that
      const int n = std::snprintf(prefix, sizeof prefix, "<%d>", syslog_priority(level_));
      const std::string_view p(prefix, static_cast<std::size_t>(n));
      line += p;
      for (char c : text) {
        line += c;
        if (c == '\n') line += p;
      }
      break;
    }
    case format::json:
      append_time_and_level(line, "{\"time\":\"", "\",\"level\":\"", level_, "\",\"message\":");
      line += json_string(text);
      line += '}';
      break;
  }
  line += '\n';
  give_back(std::move(text));
  // As the record's message, which the sink writes as it is: a record_ostream would set up a
  // stream (and its locale) for every record.
  rec.attribute_values().insert(message_name, bl::attributes::make_attribute_value(line));
  logger.push_record(std::move(rec));
  if (line.capacity() > kept_line_bytes) std::string().swap(line);
}

}  // namespace localproxy::log
