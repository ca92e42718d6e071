// Runs every config test in a fresh empty working directory, so the default --config-dir
// (./config) of whoever runs the tests cannot leak mappings into them.
#include <unistd.h>

#include <memory>

#include "config_test_support.hpp"

namespace {

class empty_working_directory : public ::testing::Environment {
 public:
  void SetUp() override {
    dir_ = std::make_unique<config_test::temp_dir>();
    previous_ = std::filesystem::current_path();
    std::filesystem::current_path(dir_->path());
  }
  void TearDown() override {
    std::filesystem::current_path(previous_);
    dir_.reset();
  }

 private:
  std::unique_ptr<config_test::temp_dir> dir_;
  std::filesystem::path previous_;
};

const auto* const registered = ::testing::AddGlobalTestEnvironment(new empty_working_directory);

}  // namespace
