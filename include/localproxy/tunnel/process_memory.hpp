#pragma once
// Giving back what start-up used and the steady state does not: pages of code and read-only data
// touched once (option parsing, configuration, TLS set-up, the handshake) and freed heap.
#include <cstddef>
#include <string_view>

namespace localproxy::tunnel {

struct released_memory {
  std::size_t mapped_bytes = 0;  // file-backed pages no longer mapped (they stay in the page cache)
  std::size_t mappings = 0;
  bool heap_trimmed = false;
};

// Unmaps the resident pages of every private, read-only, file-backed mapping that holds no page
// of its own (code, constants: nothing a write or a relocation changed), so that the process's
// resident set is what it uses from now on: a page it needs again comes back from the page cache
// on first touch, without I/O. Then returns freed heap to the kernel. Linux only; elsewhere a
// no-op. `smaps` is /proc/self/smaps's text (a parameter for tests).
released_memory release_startup_memory();
released_memory release_startup_memory(std::string_view smaps);

// release_startup_memory(), and a debug line saying how much went, `after` what ("the
// configuration read", ...).
void release_startup_pages(std::string_view after);

// The process's resident set now (VmRSS, from /proc/self/statm), in bytes; 0 when not known.
std::size_t resident_bytes();

// Above this, the running tunnel gives back the pages of code and constants touched once since the
// last release (keep_resident_set_small): the data path's own working set, libraries included, is
// about 6 MiB under a bulk transfer on x86_64; the kernel maps code 64 KiB around each page a fault
// touches, so a rarely taken path (a new connection, a log line) leaves far more resident than it
// uses until then.
inline constexpr std::size_t resident_ceiling = 6 * 1024 * 1024 + 512 * 1024;

}  // namespace localproxy::tunnel
