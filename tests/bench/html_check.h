#pragma once
// Checks ferry-bench's HTML page without a browser: well-formed as XML
// (every element closed or self-closed, properly nested, only the entities
// html_escape writes) and self-contained (no script, nothing fetched).
#include <string>
#include <vector>

namespace ferry::bench::testing {

// "" when `html` passes; else the first problem and where it is.
inline std::string html_problems(const std::string& html) {
  const std::string doctype = "<!DOCTYPE html>";
  if (html.rfind(doctype, 0) != 0) return "does not start with " + doctype;
  for (const char* banned : {"<script", "<link", "<img", "<iframe", "@import", "url(", "://", "src=", "href="})
    if (html.find(banned) != std::string::npos) return std::string("refers outside the page: ") + banned;
  std::vector<std::string> open;
  for (size_t i = doctype.size(); i < html.size(); ++i) {
    if (html[i] == '&') {
      const size_t end = html.find(';', i);
      const std::string entity = end == std::string::npos ? html.substr(i, 8) : html.substr(i, end - i + 1);
      if (entity != "&amp;" && entity != "&lt;" && entity != "&gt;" && entity != "&quot;")
        return "unknown entity " + entity + " at " + std::to_string(i);
      continue;
    }
    if (html[i] == '>') return "stray '>' at " + std::to_string(i);
    if (html[i] != '<') continue;
    const size_t end = html.find('>', i);
    if (end == std::string::npos) return "unclosed tag at " + std::to_string(i);
    std::string tag = html.substr(i + 1, end - i - 1);
    i = end;
    if (tag.find('<') != std::string::npos) return "'<' inside a tag: " + tag;
    if (tag.empty()) return "empty tag";
    if (tag.back() == '/') continue;  // self-closed
    const bool closing = tag.front() == '/';
    std::string name = tag.substr(closing ? 1 : 0, tag.find_first_of(" \n\t") - (closing ? 1 : 0));
    if (!closing) {
      open.push_back(name);
      continue;
    }
    if (open.empty() || open.back() != name)
      return "</" + name + "> closes " + (open.empty() ? std::string("nothing") : "<" + open.back() + ">");
    open.pop_back();
  }
  if (!open.empty()) return "<" + open.back() + "> is never closed";
  return "";
}

inline size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

}  // namespace ferry::bench::testing
