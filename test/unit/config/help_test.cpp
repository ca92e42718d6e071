// --help is built from the option table: every option in a group, every line within 80 columns.
#include <sstream>

#include "../../../src/config/option_table.hpp"
#include "config_test_support.hpp"

using namespace config_test;
namespace table = localproxy::config::option_table;

TEST(Help, EveryOptionNamesAGroupThatHasATitle) {
  for (const auto& o : table::all()) {
    EXPECT_NE(o.section, table::group::none) << o.name << ": give it a group in option_table.cpp";
    EXPECT_FALSE(table::title(o.section).empty()) << o.name;
  }
}

TEST(Help, EveryLineFitsAndEveryOptionIsListedOnceUnderItsGroup) {
  const auto text = parse({"--help"}, {}).text;
  std::istringstream lines(text);
  std::string line, heading;
  std::map<std::string, std::string> listed;  // option -> the heading it appears under
  while (std::getline(lines, line)) {
    EXPECT_LE(line.size(), table::help_width) << line;
    if (!line.empty() && line.back() == ':' && line.front() != ' ') heading = line.substr(0, line.size() - 1);
    const auto dashes = line.find("--");
    if (heading != "Exit statuses" && line.starts_with("  ") && dashes != std::string::npos && dashes <= 6) {
      const auto name = line.substr(dashes + 2, line.find(' ', dashes) - dashes - 2);
      EXPECT_TRUE(listed.emplace(name, heading).second) << name << " listed twice";
    }
  }
  for (const auto& o : table::all()) {
    ASSERT_TRUE(listed.contains(std::string(o.name))) << o.name;
    EXPECT_EQ(listed[std::string(o.name)], table::title(o.section)) << o.name;
  }
  EXPECT_EQ(listed.size(), table::all().size());
}

TEST(Help, ListsTheExitStatuses) {
  const auto text = parse({"--help"}, {}).text;
  const auto at = text.find("\nExit statuses:\n");
  ASSERT_NE(at, std::string::npos);
  for (const char* status : {"\n  0  normal end", "\n  1  runtime failure", "\n  2  usage or configuration error",
                             "\n  3  the service or a web proxy rejected"})
    EXPECT_NE(text.find(status, at), std::string::npos) << status;
}
