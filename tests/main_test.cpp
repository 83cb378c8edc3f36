// Test runner: Catch2's, with the library loggers silenced unless PORTCULLIS_TEST_LOG names a level
// (e.g. PORTCULLIS_TEST_LOG=debug), so a failure's output is the test's and not the log's.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <cstdlib>

#include "base/logging.hpp"

int main(int argc, char** argv) {
  const char* level = std::getenv("PORTCULLIS_TEST_LOG");
  (void)portcullis::log::set_level(level != nullptr ? level : "off");
  return Catch::Session().run(argc, argv);
}
