#pragma once
/// A small streaming JSON writer: objects, arrays, strings with correct
/// escaping, numbers. It appends to a std::string; commas and (optionally)
/// indentation are its business, the order of calls is the caller's.
///
///   std::string s;
///   JsonWriter w(s, /*pretty=*/true);
///   w.begin_object();
///   w.key("images_per_s"); w.value(812.5);
///   w.key("pipeline"); w.value("train");
///   w.end_object();
///
/// Strings: '"', '\\' and control characters are escaped (\n, \t, ... or
/// \u00XX); valid UTF-8 passes through; a byte that is not part of valid
/// UTF-8 becomes U+FFFD, so the output is always valid JSON. Non-finite
/// doubles are written as null.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::bench {

class JsonWriter {
 public:
  explicit JsonWriter(std::string& out, bool pretty = false) : out_(out), pretty_(pretty) {}

  void begin_object() { open('{'); }
  void end_object() { close('}'); }
  void begin_array() { open('['); }
  void end_array() { close(']'); }
  /// The next member's name; must be inside an object, followed by one value.
  void key(std::string_view name);

  void value(std::string_view s);
  void value(const char* s) { value(std::string_view(s)); }
  void value(const std::string& s) { value(std::string_view(s)); }
  void value(double v);
  void value(int64_t v);
  void value(uint64_t v);
  void value(int v) { value(static_cast<int64_t>(v)); }
  void value(bool v);
  void null();

  /// Starts the next member or element on a new line (after its comma): lets
  /// a compact writer put one array element per line.
  void newline() { pending_newline_ = true; }

  /// Appends `s` as a quoted, escaped JSON string.
  static void append_string(std::string& out, std::string_view s);

 private:
  void open(char c);
  void close(char c);
  void before_value();
  void indent();

  std::string& out_;
  bool pretty_;
  std::vector<bool> has_members_;  // one per open container
  bool after_key_ = false;
  bool pending_newline_ = false;
};

}  // namespace ferry::bench
