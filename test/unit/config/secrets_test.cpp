// No usage error may quote an access token, a client token or a proxy password, whatever else is
// wrong with the command line.
#include "config_test_support.hpp"

#include <algorithm>

using namespace config_test;

namespace {

const std::string access_token = "AccessTok3nSecretValue";
const std::string client_token = "ClientTok3nSecretValue0123456789abcdef";
const std::string password = "Pr0xyPassw0rdSecret";

}  // namespace

TEST(Secrets, NoErrorMessageQuotesATokenOrPassword) {
  const std::string proxy = "http://user:" + password + "@proxy.example.com:3128";
  const std::vector<std::vector<std::string>> failing{
      {"-r", "us-east-1"},
      {"-r", "BAD", "-s", "1"},
      {"-r", "us-east-1", "-s", "0"},
      {"-r", "us-east-1", "-s", "1", "-e", "x.example.com"},
      {"-s", "1"},
      {"-r", "us-east-1", "-s", "1", "-i", client_token + "!"},
      {"-r", "us-east-1", "-s", "1", "-t", access_token + "\x7f"},
      {"-r", "us-east-1", "-s", "1", "-t", access_token + std::string(5000, 'x')},
      {"-r", "us-east-1", "-s", "1", "--web-proxy", "http://user:" + password + "@proxy.example.com:0"},
      {"-r", "us-east-1", "-s", "1", "--web-proxy", "http://user:" + password + "%G1@proxy.example.com:1"},
      {"-r", "us-east-1", "-s", "1", "--web-proxy", "http://user:" + password + "@proxy.example.com:1/x"},
      {"-r", "us-east-1", "-s", "1", "--web-proxy", "gopher://user:" + password + "@proxy.example.com:1"},
      {"-r", "us-east-1", "-s", "1", access_token},
      {"-r", "us-east-1", "-s", "1", "-t", access_token, "-t", access_token},
      {"--access-tokn", access_token},
  };
  for (auto args : failing) {
    if (std::find(args.begin(), args.end(), "-t") == args.end() && args.size() > 1 && args[0] != "--access-tokn") {
      args.push_back("--web-proxy");
      args.push_back(proxy);
    }
    const auto e = error_of(args, {{"AWSIOT_TUNNEL_ACCESS_TOKEN", access_token}, {"AWSIOT_TUNNEL_CLIENT_TOKEN", client_token}});
    EXPECT_FALSE(e.empty()) << args.back();
    EXPECT_EQ(e.find(access_token), std::string::npos) << e;
    EXPECT_EQ(e.find(client_token), std::string::npos) << e;
    EXPECT_EQ(e.find(password), std::string::npos) << e;
  }
}

TEST(Secrets, WarningsDoNotQuoteThem) {
  const auto r = parse({"-s", "1", "-t", access_token, "--web-proxy",
                        "http://user:" + password + "@proxy.example.com", "-e", "ws://127.0.0.1:1"});
  EXPECT_GE(r.warnings.size(), 3u);
  for (const auto& w : r.warnings) {
    EXPECT_EQ(w.find(access_token), std::string::npos) << w;
    EXPECT_EQ(w.find(password), std::string::npos) << w;
  }
}
