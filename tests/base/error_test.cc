#include "base/error.h"

#include <gtest/gtest.h>

#include <csignal>

namespace ferry {
namespace {

TEST(Error, SignalNamesAreSpelledOut) {
  EXPECT_EQ(signal_name(SIGSEGV), "SIGSEGV");
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
}

TEST(Error, SystemErrorCarriesCallErrnoAndText) {
  SystemError e("open(/nonexistent)", ENOENT);
  EXPECT_EQ(e.code(), ENOENT);
  EXPECT_NE(std::string(e.what()).find("open(/nonexistent) failed: No such file or directory"), std::string::npos);
}

TEST(Error, CheckSyscallThrowsOnMinusOne) {
  errno = EBADF;
  EXPECT_THROW(check_syscall(-1, "close(99)"), SystemError);
  EXPECT_EQ(check_syscall(3, "ok"), 3);
}

}  // namespace
}  // namespace ferry
