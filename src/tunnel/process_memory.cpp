#include "localproxy/tunnel/process_memory.hpp"

#include "localproxy/log/log.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cctype>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace localproxy::tunnel {

namespace {

struct mapping {
  std::uintptr_t begin = 0;
  std::uintptr_t end = 0;
  bool candidate = false;    // private, read-only, backed by a file
  bool own_pages = true;     // Anonymous: not 0 (copied on write, e.g. relocated), or not known
  std::size_t resident = 0;  // Rss: in bytes
};

// "7f00-7f10 r-xp 00000000 fe:01 1234   /usr/lib/x/libc.so.6": the range and whether it qualifies.
bool parse_header(std::string_view line, mapping& m) {
  const auto dash = line.find('-');
  const auto space = line.find(' ');
  if (dash == std::string_view::npos || space == std::string_view::npos || dash > space) return false;
  if (std::from_chars(line.data(), line.data() + dash, m.begin, 16).ec != std::errc{}) return false;
  if (std::from_chars(line.data() + dash + 1, line.data() + space, m.end, 16).ec != std::errc{}) return false;
  const auto perms = line.substr(space + 1, 4);
  const auto path = line.find(" /");
  m.candidate = perms.size() == 4 && perms[0] == 'r' && perms[1] == '-' && perms[3] == 'p' && path != std::string_view::npos;
  m.own_pages = true;
  m.resident = 0;
  return true;
}

// "Anonymous:          12 kB" -> 12 * 1024, or nothing for another line.
bool parse_field(std::string_view line, std::string_view name, std::size_t& bytes) {
  if (line.substr(0, name.size()) != name) return false;
  auto digits = line.substr(name.size());
  while (!digits.empty() && digits.front() == ' ') digits.remove_prefix(1);
  std::size_t kib = 0;
  if (std::from_chars(digits.data(), digits.data() + digits.size(), kib).ec != std::errc{}) return false;
  bytes = kib * 1024;
  return true;
}

std::vector<mapping> releasable(std::string_view smaps) {
  std::vector<mapping> found;
  mapping current;
  bool in_mapping = false;
  const auto flush = [&] {
    if (in_mapping && current.candidate && !current.own_pages && current.resident > 0) found.push_back(current);
  };
  while (!smaps.empty()) {
    const auto eol = smaps.find('\n');
    const auto line = smaps.substr(0, eol);
    smaps.remove_prefix(eol == std::string_view::npos ? smaps.size() : eol + 1);
    std::size_t bytes = 0;
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line.front())) && line.find('-') < line.find(' ')) {
      flush();
      in_mapping = parse_header(line, current);
    } else if (parse_field(line, "Rss:", bytes)) {
      current.resident = bytes;
    } else if (parse_field(line, "Anonymous:", bytes)) {
      current.own_pages = bytes != 0;
    }
  }
  flush();
  return found;
}

}  // namespace

released_memory release_startup_memory(std::string_view smaps) {
  released_memory released;
#if defined(__linux__)
  for (const auto& m : releasable(smaps)) {
    // Read-only and without a page of its own: every page is the file's, so dropping the mapping's
    // page-table entries loses nothing. (A mapping with copied pages, such as relocated data made
    // read-only afterwards, is left alone: those pages are not in the file.)
    if (madvise(reinterpret_cast<void*>(m.begin), m.end - m.begin, MADV_DONTNEED) == 0) {
      released.mapped_bytes += m.resident;
      ++released.mappings;
    }
  }
#endif
#if defined(__GLIBC__)
  released.heap_trimmed = malloc_trim(0) != 0;
#endif
  return released;
}

// VmRSS and VmHWM from /proc/self/status, in KiB (0 when unknown).
std::pair<long, long> resident_kib() {
  std::ifstream in("/proc/self/status");
  long rss = 0, hwm = 0;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("VmRSS:", 0) == 0) rss = std::strtol(line.c_str() + 6, nullptr, 10);
    if (line.rfind("VmHWM:", 0) == 0) hwm = std::strtol(line.c_str() + 6, nullptr, 10);
  }
  return {rss, hwm};
}

void release_startup_pages(std::string_view after) {
  const auto released = release_startup_memory();
  const auto [rss, hwm] = resident_kib();
  LP_LOG(debug) << "Released " << released.mapped_bytes / 1024 << " KiB of start-up pages from " << released.mappings
                << " mappings" << (released.heap_trimmed ? " and freed heap" : "") << ", " << after << " (resident "
                << rss << " KiB, at most " << hwm << " KiB so far)";
}

std::size_t resident_bytes() {
  std::ifstream in("/proc/self/statm");
  std::size_t size = 0, resident = 0;
  if (!(in >> size >> resident)) return 0;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

released_memory release_startup_memory() {
  std::ifstream in("/proc/self/smaps");
  const std::string smaps{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return release_startup_memory(smaps);
}

}  // namespace localproxy::tunnel
