#pragma once
/// A small binary encoding for what ferry's processes send each other
/// (worker messages, spawn payloads, batch descriptions). Both ends are the
/// same build on the same host, so values travel in native byte order; the
/// reader still bounds-checks every field, so a torn or foreign message
/// becomes ferry::ProtocolError, never a wild read.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/error.h"

namespace ferry {

class ByteWriter {
 public:
  template <class T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    append(&v, sizeof(T));
  }
  void put_bytes(std::span<const std::byte> bytes) {
    put<uint64_t>(bytes.size());
    append(bytes.data(), bytes.size());
  }
  void put_string(std::string_view s) { put_bytes(std::as_bytes(std::span(s.data(), s.size()))); }
  template <class T>
  void put_vector(std::span<const T> v) {
    put_bytes(std::as_bytes(v));
  }
  std::vector<std::byte>& buffer() { return buf_; }
  /// Empties the buffer, keeping its capacity (one writer serves many messages).
  void clear() { buf_.clear(); }

 private:
  void append(const void* p, size_t n) {
    if (n == 0) return;
    const size_t at = buf_.size();
    buf_.resize(at + n);
    std::memcpy(buf_.data() + at, p, n);
  }
  std::vector<std::byte> buf_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> data) : data_(data) {}
  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    std::memcpy(&v, take(sizeof(T)).data(), sizeof(T));
    return v;
  }
  std::span<const std::byte> get_bytes() { return take(get<uint64_t>()); }
  std::string get_string() {
    auto b = get_bytes();
    return std::string(reinterpret_cast<const char*>(b.data()), b.size());
  }
  template <class T>
  std::vector<T> get_vector() {
    auto b = get_bytes();
    if (b.size() % sizeof(T) != 0)
      throw ProtocolError("ferry: malformed message (a vector's size is not a multiple of its element)");
    std::vector<T> v(b.size() / sizeof(T));
    if (!b.empty()) std::memcpy(v.data(), b.data(), b.size());
    return v;
  }
  bool done() const { return pos_ == data_.size(); }

 private:
  std::span<const std::byte> take(uint64_t n) {
    if (n > data_.size() - pos_) throw ProtocolError("ferry: malformed message (truncated)");
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  std::span<const std::byte> data_;
  size_t pos_ = 0;
};

}  // namespace ferry
