#include "localproxy/log/log.hpp"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <iostream>
#include <utility>
#include <vector>

#include <boost/core/null_deleter.hpp>
#include <boost/log/core.hpp>
#include <boost/log/expressions.hpp>
#include <boost/log/sinks/sync_frontend.hpp>
#include <boost/log/sinks/text_ostream_backend.hpp>
#include <boost/log/sources/record_ostream.hpp>
#include <boost/log/sources/severity_logger.hpp>

namespace localproxy::log {

namespace {

namespace bl = boost::log;

std::atomic<int> current_level{static_cast<int>(level::info)};
std::vector<std::string> secrets;
bool sink_installed = false;


void install_sink() {
  using backend_t = bl::sinks::text_ostream_backend;
  auto backend = boost::make_shared<backend_t>();
  backend->add_stream(boost::shared_ptr<std::ostream>(&std::clog, boost::null_deleter()));
  backend->auto_flush(true);
  auto sink = boost::make_shared<bl::sinks::synchronous_sink<backend_t>>(backend);
  // The line prefix is built in record::~record(); the sink writes it as it is.
  sink->set_formatter(bl::expressions::stream << bl::expressions::smessage);
  bl::core::get()->add_sink(sink);
  sink_installed = true;
}

// [YYYY-MM-DD HH:MM:SS.ffffff], local time
std::string timestamp() {
  const auto now = std::chrono::system_clock::now();
  const auto t = std::chrono::system_clock::to_time_t(now);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() % 1000000;
  std::tm tm{};
  localtime_r(&t, &tm);
  char text[40];
  const auto n = std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S", &tm);
  std::snprintf(text + n, sizeof text - n, ".%06lld", static_cast<long long>(micros));
  return text;
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

int clamp_verbosity(int v) { return std::clamp(v, 0, static_cast<int>(level::trace)); }

}  // namespace

void init(int verbosity) {
  if (!sink_installed) install_sink();
  set_verbosity(verbosity);
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

record::~record() {
  if (!sink_installed) install_sink();
  static bl::sources::severity_logger<level> logger;
  auto rec = logger.open_record(bl::keywords::severity = level_);
  if (!rec) return;
  bl::record_ostream out(rec);
  out << '[' << timestamp() << "] [" << level_name(level_) << "] " << redact(os_.str());
  out.flush();
  logger.push_record(std::move(rec));
}

}  // namespace localproxy::log
