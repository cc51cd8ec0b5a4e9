#include "tools/pack/tar_writer.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/error.h"

namespace ferry::pack {

TarWriter::TarWriter(std::string path) : path_(std::move(path)) {
  std::string tmpl = path_ + ".tmp.XXXXXX";
  fd_.reset(::mkostemp(tmpl.data(), O_CLOEXEC));
  if (!fd_) throw SystemError("mkostemp(" + tmpl + ")", errno);
  temp_path_ = tmpl;
  ::fchmod(fd_.get(), 0644);
}

TarWriter::~TarWriter() {
  if (!finished_ && !temp_path_.empty()) ::unlink(temp_path_.c_str());
}

void TarWriter::write(const void* data, size_t size) {
  const auto* p = static_cast<const uint8_t*>(data);
  while (size > 0) {
    const ssize_t w = ::write(fd_.get(), p, size);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw SystemError("write(" + temp_path_ + ")", errno);
    }
    p += w;
    size -= static_cast<size_t>(w);
  }
}

void TarWriter::add(const std::string& name, std::span<const uint8_t> bytes) {
  char h[512] = {};
  std::string prefix;
  std::string base = name;
  if (name.size() > 100) {
    const size_t slash = name.rfind('/', 155);
    if (slash == std::string::npos || name.size() - slash - 1 > 100) {
      throw InvalidOption("TarWriter: member name '" + name + "' does not fit a ustar header");
    }
    prefix = name.substr(0, slash);
    base = name.substr(slash + 1);
  }
  std::memcpy(h, base.data(), base.size());
  std::snprintf(h + 100, 8, "%07o", 0644);
  std::snprintf(h + 108, 8, "%07o", 0);
  std::snprintf(h + 116, 8, "%07o", 0);
  std::snprintf(h + 124, 12, "%011llo", static_cast<unsigned long long>(bytes.size()));
  std::snprintf(h + 136, 12, "%011o", 0);
  h[156] = '0';
  std::memcpy(h + 257, "ustar", 6);
  h[263] = '0';
  h[264] = '0';
  std::memcpy(h + 345, prefix.data(), prefix.size());
  std::memset(h + 148, ' ', 8);
  unsigned sum = 0;
  for (char c : h) sum += static_cast<uint8_t>(c);
  std::snprintf(h + 148, 8, "%06o", sum);
  h[155] = ' ';
  write(h, sizeof h);
  write(bytes.data(), bytes.size());
  static const char zeros[512] = {};
  const size_t pad = (512 - bytes.size() % 512) % 512;
  write(zeros, pad);
}

void TarWriter::add_text(const std::string& name, const std::string& text) {
  add(name, {reinterpret_cast<const uint8_t*>(text.data()), text.size()});
}

void TarWriter::finish() {
  if (finished_) return;
  static const char zeros[1024] = {};
  write(zeros, sizeof zeros);
  if (::fsync(fd_.get()) != 0) throw SystemError("fsync(" + temp_path_ + ")", errno);
  if (::rename(temp_path_.c_str(), path_.c_str()) != 0) throw SystemError("rename(" + temp_path_ + ")", errno);
  finished_ = true;
  fd_.reset();
}

}  // namespace ferry::pack
