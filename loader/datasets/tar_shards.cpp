#include "loader/datasets/tar_shards.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <utility>

#include "base/error.h"
#include "loader/datasets/detail/file_io.h"
#include "loader/datasets/detail/parallel.h"
#include "loader/datasets/detail/tar_format.h"

namespace ferry {
namespace {

constexpr uint64_t kBlock = detail::kTarBlock;

// ---- brace expansion -------------------------------------------------------

std::vector<std::string> brace_alternatives(std::string_view body, std::string_view pattern) {
  std::vector<std::string> out;
  const size_t dots = body.find("..");
  if (dots != std::string_view::npos) {
    const std::string_view a = body.substr(0, dots);
    const std::string_view b = body.substr(dots + 2);
    int64_t lo = 0;
    int64_t hi = 0;
    const auto ra = std::from_chars(a.data(), a.data() + a.size(), lo);
    const auto rb = std::from_chars(b.data(), b.data() + b.size(), hi);
    if (a.empty() || b.empty() || ra.ec != std::errc() || rb.ec != std::errc() || ra.ptr != a.data() + a.size() ||
        rb.ptr != b.data() + b.size() || lo < 0 || hi < lo) {
      throw InvalidOption("brace pattern '" + std::string(pattern) + "': bad range {" + std::string(body) +
                          "} (expected {FIRST..LAST} with 0 <= FIRST <= LAST)");
    }
    if (hi - lo > 10'000'000) throw InvalidOption("brace pattern '" + std::string(pattern) + "': range too large");
    const size_t width = a.size();
    for (int64_t v = lo; v <= hi; ++v) {
      std::string s = std::to_string(v);
      if (s.size() < width) s.insert(0, width - s.size(), '0');
      out.push_back(std::move(s));
    }
    return out;
  }
  size_t start = 0;
  for (size_t k = 0; k <= body.size(); ++k) {
    if (k == body.size() || body[k] == ',') {
      out.emplace_back(body.substr(start, k - start));
      start = k + 1;
    }
  }
  return out;
}

struct Member {
  std::string name;
  uint64_t data_offset;
  uint64_t size;
  uint64_t header_offset;
};

/// Reads the member list of one shard (regular files only).
std::vector<Member> list_members(int fd, const std::string& shard) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw DataError(shard + ": fstat failed: " + std::strerror(errno));
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);
  std::vector<Member> out;
  detail::TarExtension ext;
  uint8_t h[kBlock];
  uint64_t off = 0;
  std::vector<char> extra;
  while (off < file_size) {
    if (file_size - off < kBlock) {
      throw DataError(shard + ": truncated tar: partial header at offset " + std::to_string(off) + " (file size " +
                      std::to_string(file_size) + ")");
    }
    detail::pread_exact(fd, h, kBlock, off, shard);
    detail::TarHeader th;
    if (!detail::parse_tar_header(h, off, shard, th)) break;  // end-of-archive marker
    const bool is_ext = detail::TarExtension::is_extension(th.type);
    if (!is_ext) ext.apply_to(th);
    const uint64_t data = off + kBlock;
    if (th.size > file_size - data) {
      throw DataError(shard + ": truncated tar: member '" + th.name + "' with header at offset " + std::to_string(off) +
                      " needs " + std::to_string(th.size) + " bytes from offset " + std::to_string(data) +
                      " but the file ends at offset " + std::to_string(file_size));
    }
    if (is_ext) {
      if (th.size > detail::kMaxTarExtension) {
        throw DataError(shard + ": corrupt tar: extended header of " + std::to_string(th.size) + " bytes at offset " +
                        std::to_string(off));
      }
      extra.resize(th.size);
      detail::pread_exact(fd, extra.data(), th.size, data, shard);
      ext.absorb(th.type, std::string_view(extra.data(), extra.size()), off, shard);
    } else if (detail::is_regular_member(th.type)) {
      out.push_back({std::move(th.name), data, th.size, off});
    }
    off = data + (th.size + kBlock - 1) / kBlock * kBlock;
  }
  return out;
}

UniqueFd open_shard(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) throw DataError("TarShards: cannot open shard '" + path + "': " + std::strerror(errno));
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL);
  return fd;
}

struct ShardIndex {
  std::vector<TarShards::Sample> samples;
  std::vector<std::string> names;
};

ShardIndex index_shard(int fd, const std::string& shard, uint32_t shard_no, const TarShardsOptions& opt) {
  const std::vector<Member> members = list_members(fd, shard);
  ShardIndex out;
  size_t k = 0;
  char text[64];
  while (k < members.size()) {
    std::string_view key;
    std::string_view ext;
    if (!detail::split_key(members[k].name, key, ext)) {  // not part of any sample (no extension)
      ++k;
      continue;
    }
    const std::string key_str(key);
    TarShards::Sample s;
    s.shard = shard_no;
    int best = -1;
    size_t best_member = 0;
    size_t j = k;
    for (; j < members.size(); ++j) {
      std::string_view kj;
      std::string_view ej;
      if (!detail::split_key(members[j].name, kj, ej) || kj != key_str) break;
      const std::string e = detail::lower_ascii(ej);
      if (e == opt.label_extension) {
        const Member& m = members[j];
        if (m.size == 0 || m.size >= sizeof text) {
          throw DataError(shard + ":" + m.name + ": label member of " + std::to_string(m.size) +
                          " bytes (expected a decimal class index)");
        }
        detail::pread_exact(fd, text, m.size, m.data_offset, shard);
        const int64_t label = detail::parse_label_text(std::string_view(text, m.size), shard + ":" + m.name);
        s.label = label;
      } else {
        for (size_t p = 0; p < opt.image_extensions.size(); ++p) {
          if (e == opt.image_extensions[p] && (best < 0 || static_cast<int>(p) < best)) {
            best = static_cast<int>(p);
            best_member = j;
          }
        }
      }
    }
    if (best < 0) {
      std::string exts;
      for (const auto& e : opt.image_extensions) exts += (exts.empty() ? "." : ", .") + e;
      throw DataError(shard + ": sample '" + key_str + "' (header at offset " +
                      std::to_string(members[k].header_offset) + ") has no image member (" + exts + ")");
    }
    s.offset = members[best_member].data_offset;
    s.length = members[best_member].size;
    out.samples.push_back(s);
    out.names.push_back(members[best_member].name);
    k = j;
  }
  return out;
}

}  // namespace

std::vector<std::string> expand_braces(std::string_view pattern) {
  const size_t open = pattern.find('{');
  if (open == std::string_view::npos) {
    if (pattern.find('}') != std::string_view::npos) {
      throw InvalidOption("brace pattern '" + std::string(pattern) + "': '}' without '{'");
    }
    return {std::string(pattern)};
  }
  const size_t close = pattern.find('}', open);
  if (close == std::string_view::npos) {
    throw InvalidOption("brace pattern '" + std::string(pattern) + "': '{' without '}'");
  }
  const std::string_view body = pattern.substr(open + 1, close - open - 1);
  if (body.find('{') != std::string_view::npos) {
    throw InvalidOption("brace pattern '" + std::string(pattern) + "': nested braces are not supported");
  }
  const std::string prefix(pattern.substr(0, open));
  const std::vector<std::string> rest = expand_braces(pattern.substr(close + 1));
  std::vector<std::string> out;
  for (const auto& alt : brace_alternatives(body, pattern)) {
    for (const auto& r : rest) out.push_back(prefix + alt + r);
  }
  return out;
}

TarShards::TarShards(std::string_view pattern, TarShardsOptions options)
    : TarShards(expand_braces(pattern), std::move(options)) {}

TarShards::TarShards(std::vector<std::string> shard_paths, TarShardsOptions options) : shards_(std::move(shard_paths)) {
  const auto t0 = std::chrono::steady_clock::now();
  if (shards_.empty()) throw InvalidOption("TarShards: no shards given");
  if (shards_.size() > UINT32_MAX) throw InvalidOption("TarShards: too many shards");
  for (auto& e : options.image_extensions) e = detail::lower_ascii(e);
  options.label_extension = detail::lower_ascii(options.label_extension);
  // One fd per shard stays open for reads, up to kMaxOpenShards; beyond
  // that (ImageNet as 1282 shards would exceed the usual limit of 1024 fds)
  // every read opens its shard, which costs a few microseconds.
  const bool keep_fds = shards_.size() <= kMaxOpenShards;
  std::vector<ShardIndex> per_shard(shards_.size());
  if (keep_fds) fds_.resize(shards_.size());
  detail::parallel_for_index(shards_.size(), options.index_threads, [&](size_t s) {
    UniqueFd fd = open_shard(shards_[s]);
    per_shard[s] = index_shard(fd.get(), shards_[s], static_cast<uint32_t>(s), options);
    if (keep_fds) fds_[s] = std::move(fd);
  });
  for (auto& idx : per_shard) {
    shard_begin_.push_back(static_cast<int64_t>(samples_.size()));
    for (size_t k = 0; k < idx.samples.size(); ++k) {
      names_ += idx.names[k];
      idx.samples[k].name_end = names_.size();
      num_classes_ = std::max(num_classes_, idx.samples[k].label + 1);
      samples_.push_back(idx.samples[k]);
    }
  }
  shard_begin_.push_back(static_cast<int64_t>(samples_.size()));
  if (samples_.empty())
    throw DataError("TarShards: no samples in " + std::to_string(shards_.size()) + " shard(s) starting with '" +
                    shards_[0] + "'");
  index_seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string_view TarShards::member_name(int64_t i) const {
  const size_t k = static_cast<size_t>(i);
  const size_t begin = k == 0 ? 0 : samples_[k - 1].name_end;
  return std::string_view(names_).substr(begin, samples_[k].name_end - begin);
}

std::string_view TarShards::key(int64_t i) const {
  const std::string_view name = member_name(i);
  const size_t slash = name.rfind('/');
  return name.substr(0, name.find('.', slash == std::string_view::npos ? 0 : slash + 1));
}

std::string TarShards::path(int64_t i) const {
  return shards_[samples_[static_cast<size_t>(i)].shard] + ":" + std::string(member_name(i));
}

std::span<const uint8_t> TarShards::read(int64_t i, ReadBuffer& scratch) const {
  const Sample& s = samples_[static_cast<size_t>(i)];
  scratch.resize(s.length);
  UniqueFd own;
  int fd = -1;
  if (fds_.empty()) {
    own = open_shard(shards_[s.shard]);
    fd = own.get();
  } else {
    fd = fds_[s.shard].get();
  }
  const ssize_t r = ::pread(fd, scratch.data(), s.length, static_cast<off_t>(s.offset));
  if (r != static_cast<ssize_t>(s.length)) detail::pread_exact(fd, scratch.data(), s.length, s.offset, path(i));
  return {scratch.data(), s.length};
}

std::string TarShards::describe() const {
  return "TarShards(" + shards_.front() + (shards_.size() > 1 ? " .. " + shards_.back() : "") + ": " +
         std::to_string(shards_.size()) + " shards, " + std::to_string(size()) + " samples, indexed in " +
         detail::format_seconds(index_seconds_) + ")";
}

}  // namespace ferry
