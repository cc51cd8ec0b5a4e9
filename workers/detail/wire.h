#pragma once
// Little binary encoding for the messages between the main process and its
// workers. Both ends are the same build on the same host, so values travel in
// native byte order; the reader still bounds-checks every field so a torn or
// foreign message becomes an error, never a wild read.
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/error.h"

namespace ferry::workers::detail {

class ByteWriter {
 public:
  template <class T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    buf_.insert(buf_.end(), p, p + sizeof(T));
  }
  void put_bytes(std::span<const std::byte> bytes) {
    put<uint64_t>(bytes.size());
    buf_.insert(buf_.end(), bytes.begin(), bytes.end());
  }
  void put_string(std::string_view s) { put_bytes(std::as_bytes(std::span(s.data(), s.size()))); }
  template <class T>
  void put_vector(std::span<const T> v) {
    put_bytes(std::as_bytes(v));
  }
  std::vector<std::byte>& buffer() { return buf_; }

 private:
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
    if (b.size() % sizeof(T) != 0) throw Error("ferry: malformed worker message (vector size)");
    std::vector<T> v(b.size() / sizeof(T));
    if (!b.empty()) std::memcpy(v.data(), b.data(), b.size());
    return v;
  }
  bool done() const { return pos_ == data_.size(); }

 private:
  std::span<const std::byte> take(uint64_t n) {
    if (n > data_.size() - pos_) throw Error("ferry: malformed worker message (truncated)");
    auto s = data_.subspan(pos_, n);
    pos_ += n;
    return s;
  }
  std::span<const std::byte> data_;
  size_t pos_ = 0;
};

}  // namespace ferry::workers::detail
