#include "loader/datasets/detail/tar_format.h"

#include <charconv>
#include <cstring>

#include "base/error.h"

namespace ferry::detail {
namespace {

/// Parses an octal (or GNU base-256) numeric field; false when malformed.
bool parse_number(const uint8_t* f, size_t n, uint64_t& out) {
  out = 0;
  if (f[0] & 0x80) {  // base-256, big-endian, positive values only
    if (f[0] != 0x80) return false;
    for (size_t k = 1; k < n; ++k) {
      if (out >> 56) return false;
      out = (out << 8) | f[k];
    }
    return true;
  }
  size_t k = 0;
  while (k < n && f[k] == ' ') ++k;
  bool any = false;
  for (; k < n && f[k] >= '0' && f[k] <= '7'; ++k) {
    if (out >> 60) return false;
    out = out * 8 + (f[k] - '0');
    any = true;
  }
  for (; k < n; ++k) {
    if (f[k] != ' ' && f[k] != 0) return false;
  }
  return any;
}

std::string field_string(const uint8_t* f, size_t n) {
  size_t len = 0;
  while (len < n && f[len] != 0) ++len;
  return std::string(reinterpret_cast<const char*>(f), len);
}

bool checksum_ok(const uint8_t* h) {
  uint64_t stored = 0;
  if (!parse_number(h + 148, 8, stored)) return false;
  uint64_t usum = 0;
  int64_t ssum = 0;
  for (size_t k = 0; k < kTarBlock; ++k) {
    const uint8_t b = (k >= 148 && k < 156) ? ' ' : h[k];
    usum += b;
    ssum += static_cast<int8_t>(b);
  }
  return stored == usum || static_cast<int64_t>(stored) == ssum;
}

bool all_zero(const uint8_t* p, size_t n) {
  for (size_t k = 0; k < n; ++k) {
    if (p[k] != 0) return false;
  }
  return true;
}

}  // namespace

bool parse_tar_header(const uint8_t* h, uint64_t offset, const std::string& shard, TarHeader& out) {
  if (all_zero(h, kTarBlock)) return false;
  if (!checksum_ok(h)) {
    throw DataError(shard + ": corrupt tar: bad header checksum at offset " + std::to_string(offset) +
                    " (not a tar file, or damaged)");
  }
  if (!parse_number(h + 124, 12, out.size)) {
    throw DataError(shard + ": corrupt tar: bad size field in header at offset " + std::to_string(offset));
  }
  out.type = static_cast<char>(h[156]);
  out.name = field_string(h, 100);
  if (std::memcmp(h + 257, "ustar", 5) == 0 && h[345] != 0) out.name = field_string(h + 345, 155) + "/" + out.name;
  return true;
}

void TarExtension::absorb(char type, std::string_view data, uint64_t offset, const std::string& shard) {
  if (type == 'L') {
    name = std::string(data.substr(0, data.find('\0')));
    return;
  }
  std::string v;
  if (pax_value(data, "path", v)) name = v;
  if (pax_value(data, "size", v)) {
    uint64_t s = 0;
    const auto r = std::from_chars(v.data(), v.data() + v.size(), s);
    if (r.ec != std::errc() || r.ptr != v.data() + v.size()) {
      throw DataError(shard + ": corrupt tar: bad pax size '" + v + "' in header at offset " + std::to_string(offset));
    }
    size = s;
  }
}

void TarExtension::apply_to(TarHeader& h) {
  if (!name.empty()) h.name = std::move(name);
  if (size != UINT64_MAX) h.size = size;
  name.clear();
  size = UINT64_MAX;
}

bool pax_value(std::string_view pax, std::string_view key, std::string& out) {
  size_t pos = 0;
  while (pos < pax.size()) {
    size_t len = 0;
    const auto r = std::from_chars(pax.data() + pos, pax.data() + pax.size(), len);
    if (r.ec != std::errc() || len == 0 || pos + len > pax.size()) return false;
    const std::string_view rec = pax.substr(pos, len);
    const size_t sp = rec.find(' ');
    const size_t eq = rec.find('=');
    if (sp != std::string_view::npos && eq != std::string_view::npos && eq > sp) {
      if (rec.substr(sp + 1, eq - sp - 1) == key) {
        out = std::string(rec.substr(eq + 1, rec.size() - eq - 2));  // drop the trailing '\n'
        return true;
      }
    }
    pos += len;
  }
  return false;
}

bool split_key(std::string_view name, std::string_view& key, std::string_view& ext) {
  const size_t slash = name.rfind('/');
  const size_t dot = name.find('.', slash == std::string_view::npos ? 0 : slash + 1);
  if (dot == std::string_view::npos || dot == 0) return false;
  key = name.substr(0, dot);
  ext = name.substr(dot + 1);
  return true;
}

std::string lower_ascii(std::string_view s) {
  std::string r(s);
  for (char& c : r) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return r;
}

int64_t parse_label_text(std::string_view t, const std::string& where) {
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' ')) t.remove_suffix(1);
  int64_t label = 0;
  const auto r = std::from_chars(t.data(), t.data() + t.size(), label);
  if (t.empty() || r.ec != std::errc() || r.ptr != t.data() + t.size() || label < 0) {
    throw DataError(where + ": label '" + std::string(t) + "' is not an integer >= 0");
  }
  return label;
}

}  // namespace ferry::detail
