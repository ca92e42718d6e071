// release_startup_memory: read-only file pages are unmapped and come back intact on the next
// touch; a read-only mapping with pages of its own (as relocated data is) is left alone.
#include "localproxy/tunnel/process_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>

#include <gtest/gtest.h>

namespace {

constexpr std::size_t pages = 16;

// The Rss: of the mapping that starts at `at`, in KiB (-1: not found).
long resident_kib(const void* at) {
  std::ifstream in("/proc/self/smaps");
  std::string line;
  char start[32];
  std::snprintf(start, sizeof start, "%lx-", reinterpret_cast<unsigned long>(at));
  bool inside = false;
  while (std::getline(in, line)) {
    if (line.rfind(start, 0) == 0) inside = true;
    else if (inside && line.rfind("Rss:", 0) == 0) return std::strtol(line.c_str() + 4, nullptr, 10);
  }
  return -1;
}

std::string self_smaps() {
  std::ifstream in("/proc/self/smaps");
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class ProcessMemory : public ::testing::Test {
 protected:
  void SetUp() override {
    page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    char name[] = "/tmp/lp-process-memory-XXXXXX";
    fd_ = mkstemp(name);
    ASSERT_GE(fd_, 0);
    unlink(name);
    std::string content(pages * page_, '\0');
    for (std::size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>('a' + i % 26);
    ASSERT_EQ(write(fd_, content.data(), content.size()), static_cast<ssize_t>(content.size()));
    content_ = content;
  }
  void TearDown() override {
    if (fd_ >= 0) close(fd_);
  }
  // A private mapping of the file, every page touched.
  char* map(int prot) {
    void* p = mmap(nullptr, pages * page_, prot, MAP_PRIVATE, fd_, 0);
    EXPECT_NE(p, MAP_FAILED);
    auto* bytes = static_cast<char*>(p);
    volatile char sum = 0;
    for (std::size_t i = 0; i < pages; ++i) sum = sum + bytes[i * page_];
    return bytes;
  }
  std::size_t page_ = 4096;
  int fd_ = -1;
  std::string content_;
};

TEST_F(ProcessMemory, ReadOnlyFilePagesAreUnmappedAndComeBackIntact) {
  char* p = map(PROT_READ);
  ASSERT_GT(resident_kib(p), 0);
  const auto released = localproxy::tunnel::release_startup_memory(self_smaps());
  EXPECT_EQ(resident_kib(p), 0);
  EXPECT_GE(released.mapped_bytes, pages * page_);
  EXPECT_GE(released.mappings, 1u);
  EXPECT_EQ(std::memcmp(p, content_.data(), content_.size()), 0);  // back from the page cache
  munmap(p, pages * page_);
}

TEST_F(ProcessMemory, PagesOfItsOwnAreKept) {
  // Written (copied on write), then made read-only: like relocated data after RELRO.
  char* p = map(PROT_READ | PROT_WRITE);
  std::memcpy(p, "changed", 7);
  ASSERT_EQ(mprotect(p, pages * page_, PROT_READ), 0);
  const long before = resident_kib(p);
  localproxy::tunnel::release_startup_memory(self_smaps());
  EXPECT_EQ(resident_kib(p), before);
  EXPECT_EQ(std::memcmp(p, "changed", 7), 0);
  EXPECT_EQ(std::memcmp(p + 7, content_.data() + 7, content_.size() - 7), 0);
  munmap(p, pages * page_);
}

TEST_F(ProcessMemory, WritableMappingsAreLeftAlone) {
  char* p = map(PROT_READ | PROT_WRITE);  // read only so far, but it may be written any time
  const long before = resident_kib(p);
  localproxy::tunnel::release_startup_memory(self_smaps());
  EXPECT_EQ(resident_kib(p), before);
  munmap(p, pages * page_);
}

TEST_F(ProcessMemory, TextThatIsNotSmapsReleasesNothing) {
  const auto released = localproxy::tunnel::release_startup_memory("not\nsmaps at all\n-\n");
  EXPECT_EQ(released.mapped_bytes, 0u);
  EXPECT_EQ(released.mappings, 0u);
}

// resident_bytes() is what the kernel counts: it follows pages as they are touched and released.
TEST_F(ProcessMemory, ResidentBytesFollowPagesTouchedAndReleased) {
  const std::size_t before = localproxy::tunnel::resident_bytes();
  ASSERT_GT(before, 0u);
  char* p = map(PROT_READ);  // every page now resident
  const std::size_t touched = localproxy::tunnel::resident_bytes();
  EXPECT_GE(touched, before + pages * page_ / 2);
  localproxy::tunnel::release_startup_memory(self_smaps());
  EXPECT_LE(localproxy::tunnel::resident_bytes(), touched - pages * page_ / 2);
  munmap(p, pages * page_);
}

}  // namespace
