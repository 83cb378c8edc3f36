#include "base/data_dir_lock.hpp"

#include <unistd.h>

#include <string>

#include <catch2/catch.hpp>

#include "tests/support/process.hpp"

using namespace portcullis::base;
using portcullis::Errc;
using portcullis::testing::read_file;
using portcullis::testing::TempDir;

TEST_CASE("a data folder is locked once, names its holder's PID, and is free again when released",
          "[unit][base]") {
  TempDir dir;
  const auto pid = std::to_string(::getpid());
  {
    auto held = DataDirLock::acquire(dir.path());
    REQUIRE(held);
    CHECK(read_file(dir.path() / DataDirLock::file_name) == pid + "\n");

    // flock(2) locks belong to the open file: a second open, even in this process, is refused.
    auto second = DataDirLock::acquire(dir.path());
    REQUIRE_FALSE(second);
    CHECK(second.error().code() == Errc::conflict);
    CHECK_THAT(second.error().message(), Catch::Contains("data folder " + dir.path().string() + " is in use") &&
                                             Catch::Contains("(pid " + pid + ", lock file " +
                                                             (dir.path() / DataDirLock::file_name).string() + ")"));
  }
  // Released with the object (and by the kernel when a process dies, however it dies).
  CHECK(DataDirLock::acquire(dir.path()));
}

TEST_CASE("a data folder that cannot hold the lock file is an io error naming the file", "[unit][base]") {
  TempDir dir;
  auto lock = DataDirLock::acquire(dir.path() / "missing" / "folder");
  REQUIRE_FALSE(lock);
  CHECK(lock.error().code() == Errc::io);
  CHECK_THAT(lock.error().message(), Catch::Contains("missing/folder/portcullis.lock: cannot open the lock file"));
}
