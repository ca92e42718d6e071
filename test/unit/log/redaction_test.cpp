#include "localproxy/log/log.hpp"

#include <gtest/gtest.h>

#include "clog_capture.hpp"

namespace lg = localproxy::log;

using log_test::clog_capture;

TEST(Log, FormatAndLevels) {
  clog_capture cap;
  lg::init(4, lg::format::plain);
  LP_LOG(info) << "hello " << 42;
  LP_LOG(debug) << "not shown";
  const auto text = cap.text();
  EXPECT_NE(text.find("] [info] hello 42\n"), std::string::npos) << text;
  EXPECT_EQ(text.find("not shown"), std::string::npos);
  EXPECT_EQ(text[0], '[');
  EXPECT_EQ(text[5], '-');  // [YYYY-MM-DDTHH:MM:SS.ffffffZ]
  EXPECT_EQ(text[28], ']');
}

TEST(Log, VerbosityAboveSixIsTraceAndZeroIsOff) {
  clog_capture cap;
  lg::init(200);
  LP_LOG(trace) << "trace line";
  lg::set_verbosity(0);
  LP_LOG(fatal) << "fatal line";
  EXPECT_NE(cap.text().find("trace line"), std::string::npos);
  EXPECT_EQ(cap.text().find("fatal line"), std::string::npos);
}

TEST(Log, SecretsNeverReachALine) {
  clog_capture cap;
  lg::init(6);
  lg::add_secret("AQGAAXi-access-token-value");
  lg::add_secret("0123456789abcdef0123456789abcdef");
  LP_LOG(trace) << "token=AQGAAXi-access-token-value client 0123456789abcdef0123456789abcdef end";
  LP_LOG(error) << "xAQGAAXi-access-token-valueAQGAAXi-access-token-valuex";
  const auto text = cap.text();
  EXPECT_EQ(text.find("access-token-value"), std::string::npos) << text;
  EXPECT_EQ(text.find("0123456789abcdef0123456789abcdef"), std::string::npos) << text;
  EXPECT_NE(text.find("token=**** client **** end"), std::string::npos) << text;
  EXPECT_NE(text.find("x********x"), std::string::npos) << text;
  lg::clear_secrets();
}

namespace {
// Each test starts and ends with no secrets registered.
class Redaction : public ::testing::Test {
 protected:
  void SetUp() override { lg::clear_secrets(); }
  void TearDown() override { lg::clear_secrets(); }
};
}  // namespace

TEST_F(Redaction, ShortSecretLeavesOrdinaryWordsWhole) {
  lg::add_secret("abc");
  for (const std::string text : {"abcdef", "tabcd", "xabc", "abc1", "the abcs of it", "abc-def", "my_abc", "abcabc",
                                 "déjàabc", "abcé"})
    EXPECT_EQ(lg::redact(text), text);
}

TEST_F(Redaction, ShortSecretIsRedactedWhereItIsAValue) {
  lg::add_secret("abc");
  EXPECT_EQ(lg::redact("abc"), "****");
  EXPECT_EQ(lg::redact("abc at the start"), "**** at the start");
  EXPECT_EQ(lg::redact("at the end abc"), "at the end ****");
  EXPECT_EQ(lg::redact("token=abc"), "token=****");
  EXPECT_EQ(lg::redact("access-token: abc\r\n"), "access-token: ****\r\n");
  EXPECT_EQ(lg::redact("bad value 'abc' for -t"), "bad value '****' for -t");
  EXPECT_EQ(lg::redact("{\"token\":\"abc\"}"), "{\"token\":\"****\"}");
  EXPECT_EQ(lg::redact("a,abc,b;abc;c"), "a,****,b;****;c");
  EXPECT_EQ(lg::redact("/tunnel?t=abc&mode=source"), "/tunnel?t=****&mode=source");
  EXPECT_EQ(lg::redact("?abc"), "?****");
  EXPECT_EQ(lg::redact("/abc/"), "/****/");
  EXPECT_EQ(lg::redact("http://user:abc@proxy:3128"), "http://user:****@proxy:3128");
  EXPECT_EQ(lg::redact("\tabc\n"), "\t****\n");
  EXPECT_EQ(lg::redact("the password is abc."), "the password is ****.");
  EXPECT_EQ(lg::redact("(abc) [abc] <abc>"), "(****) [****] <****>");
  EXPECT_EQ(lg::redact("abc abc"), "**** ****");
}

TEST_F(Redaction, ShortSecretInsideAWordAndAloneInOneLine) {
  lg::add_secret("abc");
  EXPECT_EQ(lg::redact("tabcd abcdef abc xabc"), "tabcd abcdef **** xabc");
  EXPECT_EQ(lg::redact("xabc=abc"), "xabc=****");
}

TEST_F(Redaction, ShortSecretThroughALogRecord) {
  clog_capture cap;
  lg::init(4);
  lg::add_secret("abc");
  LP_LOG(info) << "abcdef tabcd token=abc";
  EXPECT_NE(cap.text().find("] [info] abcdef tabcd token=****\n"), std::string::npos) << cap.text();
}

TEST_F(Redaction, LongSecretIsRedactedEvenInsideOtherText) {
  const std::string token = "0123456789abcdef0123456789ABCDEF";  // 32 characters
  lg::add_secret(token);
  EXPECT_EQ(lg::redact("x" + token + "y"), "x****y");
  EXPECT_EQ(lg::redact("Basic" + token + token), "Basic********");
  EXPECT_EQ(lg::redact("client-token=" + token), "client-token=****");
}

TEST_F(Redaction, SixteenCharactersIsLongFifteenIsShort) {
  lg::add_secret("sixteen-chars-xx");  // 16
  lg::add_secret("fifteen-chars-x");   // 15
  EXPECT_EQ(lg::redact("asixteen-chars-xxb"), "a****b");
  EXPECT_EQ(lg::redact("afifteen-chars-xb"), "afifteen-chars-xb");
  EXPECT_EQ(lg::redact("a fifteen-chars-x b"), "a **** b");
}

TEST_F(Redaction, OverlappingSecretsLeaveNoPieceOfEither) {
  lg::add_secret("AAAAAAAAAAAAAAAA-first");
  lg::add_secret("first-BBBBBBBBBBBBBBBB");
  EXPECT_EQ(lg::redact("<AAAAAAAAAAAAAAAA-first-BBBBBBBBBBBBBBBB>"), "<****>");
  lg::add_secret("pw");
  lg::add_secret("pw:xy");
  EXPECT_EQ(lg::redact("u:pw:xy@h"), "u:****@h");
}

TEST_F(Redaction, ClearedSecretsAreNoLongerRedacted) {
  lg::add_secret("abc");
  lg::clear_secrets();
  EXPECT_EQ(lg::redact("token=abc"), "token=abc");
  lg::add_secret("");
  EXPECT_EQ(lg::redact("x"), "x");
}
