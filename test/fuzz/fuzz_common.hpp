#pragma once
// Shared by the fuzz targets: their set-up (LP_FUZZ_INITIALIZE), a cursor over the input, quiet
// logs, and a check that aborts with a message (libFuzzer turns the abort into a crash report and
// saves the input).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "localproxy/log/log.hpp"

namespace fuzz {

// Reads the input front to back; past the end every read gives zeros, so any input is valid.
class cursor {
 public:
  cursor(const std::uint8_t* data, std::size_t size) : p_(data), end_(data + size) {}
  [[nodiscard]] bool empty() const noexcept { return p_ == end_; }
  [[nodiscard]] std::size_t left() const noexcept { return static_cast<std::size_t>(end_ - p_); }
  std::uint8_t byte() noexcept { return p_ == end_ ? 0 : *p_++; }
  std::uint16_t u16() noexcept {
    const std::uint16_t hi = byte();
    return static_cast<std::uint16_t>((hi << 8) | byte());
  }
  std::uint32_t u32() noexcept {
    const std::uint32_t hi = u16();
    return (hi << 16) | u16();
  }
  // Up to n bytes (fewer at the end of the input).
  std::span<const std::uint8_t> bytes(std::size_t n) noexcept {
    if (n > left()) n = left();
    std::span<const std::uint8_t> out(p_, n);
    p_ += n;
    return out;
  }
  std::string_view text(std::size_t n) noexcept {
    auto b = bytes(n);
    return {reinterpret_cast<const char*>(b.data()), b.size()};
  }
  std::span<const std::uint8_t> rest() noexcept { return bytes(left()); }

 private:
  const std::uint8_t* p_ = nullptr;
  const std::uint8_t* end_ = nullptr;
};

// Logging off unless LP_FUZZ_VERBOSITY (0-6) asks for it, to see what an input does.
inline void quiet_logs() {
  if (const char* v = std::getenv("LP_FUZZ_VERBOSITY")) {
    localproxy::log::init(std::atoi(v));
  } else {
    localproxy::log::set_verbosity(0);
  }
}

}  // namespace fuzz

// Every target's libFuzzer set-up, once before the first input: quiet logs, then the target's own
// statements if it has any, e.g. LP_FUZZ_INITIALIZE(make_state()).
#define LP_FUZZ_INITIALIZE(...)                      \
  extern "C" int LLVMFuzzerInitialize(int*, char***) { \
    fuzz::quiet_logs();                              \
    __VA_ARGS__;                                     \
    return 0;                                        \
  }

namespace fuzz {

[[noreturn]] inline void fail(const std::string& what) {
  std::fprintf(stderr, "\nFUZZ CHECK FAILED: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

inline void check(bool ok, const std::string& what) {
  if (!ok) fail(what);
}

// A deviation from a documented promise that is not worth stopping the run for (e.g. an error
// message that spans lines): reported once per kind, with the input, and the run goes on.
inline void note(bool ok, const char* kind, const std::string& detail) {
  static std::vector<std::string> seen;
  if (ok) return;
  for (const auto& k : seen)
    if (k == kind) return;
  seen.emplace_back(kind);
  std::fprintf(stderr, "\nFUZZ NOTE (%s): %s\n", kind, detail.c_str());
}

inline std::string printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
    }
  }
  return out;
}

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace fuzz
