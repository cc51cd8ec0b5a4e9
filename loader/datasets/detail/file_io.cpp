#include "loader/datasets/detail/file_io.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/error.h"
#include "base/unique_fd.h"

namespace ferry::detail {

namespace {
[[noreturn]] void fail(const std::string& what, const char* op, int err) {
  throw DataError(what + ": " + op + " failed: " + std::strerror(err));
}
}  // namespace

template <class Buffer>
std::span<const uint8_t> read_whole_file(const std::string& path, Buffer& out) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) fail(path, "open", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail(path, "fstat", errno);
  if (!S_ISREG(st.st_mode)) throw DataError(path + ": not a regular file");
  // Read one byte more than stat says, so a file that grew is noticed.
  size_t want = static_cast<size_t>(st.st_size) + 1;
  out.resize(want);
  size_t got = 0;
  for (;;) {
    if (got == out.size()) out.resize(out.size() * 2);
    const ssize_t r = ::read(fd.get(), out.data() + got, out.size() - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      fail(path, "read", errno);
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return {out.data(), got};
}

template std::span<const uint8_t> read_whole_file(const std::string&, std::vector<uint8_t>&);
template std::span<const uint8_t> read_whole_file(const std::string&, ReadBuffer&);

void pread_exact(int fd, void* dst, size_t size, uint64_t offset, const std::string& what) {
  auto* p = static_cast<uint8_t*>(dst);
  size_t done = 0;
  while (done < size) {
    const ssize_t r = ::pread(fd, p + done, size - done, static_cast<off_t>(offset + done));
    if (r < 0) {
      if (errno == EINTR) continue;
      fail(what, "pread", errno);
    }
    if (r == 0) {
      throw DataError(what + ": file ends at offset " + std::to_string(offset + done) + ", expected " +
                      std::to_string(size) + " bytes from offset " + std::to_string(offset) + " (truncated?)");
    }
    done += static_cast<size_t>(r);
  }
}

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  if (s.size() < suffix.size()) return false;
  for (size_t k = 0; k < suffix.size(); ++k) {
    char c = s[s.size() - suffix.size() + k];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (c != suffix[k]) return false;
  }
  return true;
}

std::string format_seconds(double seconds) {
  char buf[32];
  if (seconds < 1.0) {
    std::snprintf(buf, sizeof buf, "%.1f ms", seconds * 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%.2f s", seconds);
  }
  return buf;
}

std::string parent_dir(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string join_path(const std::string& dir, const std::string& name) {
  if (!name.empty() && name[0] == '/') return name;
  if (dir.empty() || dir == ".") return name;
  if (dir.back() == '/') return dir + name;
  return dir + "/" + name;
}

}  // namespace ferry::detail
