// --stdio's kept client token: the same one for the same access token, private files, and what
// happens to a directory or a file that cannot be trusted.
#include <sys/stat.h>

#include "config_test_support.hpp"

#include "localproxy/config/client_token_cache.hpp"
#include "localproxy/config/validation.hpp"

using namespace config_test;

namespace {
mode_t mode_of(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
  return st.st_mode & 07777;
}

std::vector<std::filesystem::path> files_in(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path());
  return out;
}

const std::string access_token = "AQGAAXiTheSourceAccessTokenOfATunnel";
}  // namespace

TEST(ClientTokenCache, TheSameAccessTokenGetsTheSameClientTokenFromAPrivateFile) {
  temp_dir home;
  const auto dir = (home.path() / "run" / "localproxy").string();
  std::vector<std::string> warnings;
  const auto first = cfg::remembered_client_token(dir, access_token, warnings);
  EXPECT_TRUE(cfg::is_valid_client_token(first)) << first;
  EXPECT_EQ(cfg::remembered_client_token(dir, access_token, warnings), first);
  EXPECT_TRUE(warnings.empty()) << warnings.front();
  const auto other = cfg::remembered_client_token(dir, access_token + "2", warnings);
  EXPECT_NE(other, first);
  EXPECT_EQ(mode_of(dir), 0700u);
  const auto files = files_in(dir);
  ASSERT_EQ(files.size(), 2u);
  for (const auto& f : files) {
    EXPECT_EQ(mode_of(f), 0600u) << f;
    const auto name = f.filename().string();
    // Named by a SHA-256 (64 hex digits), never by the token.
    EXPECT_EQ(name.size(), 64u) << name;
    EXPECT_EQ(name.find_first_not_of("0123456789abcdef"), std::string::npos) << name;
    EXPECT_FALSE(contains(name, access_token));
  }
}

TEST(ClientTokenCache, ALooseDirectoryIsMadePrivateAndABadFileIsReplaced) {
  temp_dir home;
  const auto dir = home.path() / "localproxy";
  std::filesystem::create_directory(dir);
  ::chmod(dir.c_str(), 0755);
  std::vector<std::string> warnings;
  const auto first = cfg::remembered_client_token(dir.string(), access_token, warnings);
  EXPECT_EQ(mode_of(dir), 0700u);
  const auto file = files_in(dir).at(0);
  ::chmod(file.c_str(), 0644);  // readable by others: not trusted, replaced
  const auto second = cfg::remembered_client_token(dir.string(), access_token, warnings);
  EXPECT_NE(second, first);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_TRUE(contains(warnings[0], "not a private file")) << warnings[0];
  EXPECT_EQ(mode_of(file), 0600u);
  std::ofstream(file) << "not a token\n";
  warnings.clear();
  const auto third = cfg::remembered_client_token(dir.string(), access_token, warnings);
  EXPECT_TRUE(cfg::is_valid_client_token(third));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_TRUE(contains(warnings[0], "holds no client token")) << warnings[0];
  EXPECT_EQ(cfg::remembered_client_token(dir.string(), access_token, warnings), third);
}

TEST(ClientTokenCache, WithoutAPlaceToKeepItTheTokenStillComesWithAWarning) {
  temp_dir home;
  const auto blocked = home.write("file", "x");  // a file where the directory's parent should be
  std::vector<std::string> warnings;
  const auto token = cfg::remembered_client_token(blocked + "/localproxy", access_token, warnings);
  EXPECT_TRUE(cfg::is_valid_client_token(token));
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_TRUE(contains(warnings[0], "the next run cannot use this access token again")) << warnings[0];
  EXPECT_FALSE(contains(warnings[0], access_token));
  warnings.clear();
  (void)cfg::remembered_client_token("", access_token, warnings);
  EXPECT_EQ(warnings.size(), 1u);
}

TEST(ClientTokenCache, RuntimeDirectoryFirstThenTheHomeCache) {
  EXPECT_EQ(cfg::client_token_cache_dir(fake_env({{"XDG_RUNTIME_DIR", "/run/user/1000"}, {"HOME", "/home/u"}})),
            "/run/user/1000/localproxy");
  EXPECT_EQ(cfg::client_token_cache_dir(fake_env({{"XDG_RUNTIME_DIR", ""}, {"HOME", "/home/u"}})),
            "/home/u/.cache/localproxy");
}
