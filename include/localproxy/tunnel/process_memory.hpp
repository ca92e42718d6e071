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

}  // namespace localproxy::tunnel
