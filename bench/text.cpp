/**
 * @file text.cpp
 * @brief Reading the words workload's corpus (see text.hpp).
 */
#include "text.hpp"

#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <unordered_map>

namespace bulkmap_bench {
namespace {

/// Single quotes for /bin/sh.
std::string quote(std::string const& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

/// Up to `bytes` bytes of `path`, through `xz -dc` when it ends in ".xz".
std::string read_prefix(std::string const& path, std::size_t bytes) {
  bool const xz = path.size() > 3 && path.compare(path.size() - 3, 3, ".xz") == 0;
  std::string const command = (xz ? "xz -dc " : "cat ") + quote(path);
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(::popen(command.c_str(), "r"), ::pclose);
  if (!pipe) throw std::runtime_error("bulkmap_bench: cannot run '" + command + "'");
  std::string text(bytes, '\0');
  std::size_t got = 0;
  while (got < bytes) {
    std::size_t const n = std::fread(text.data() + got, 1, bytes - got, pipe.get());
    if (n == 0) break;
    got += n;
  }
  // Closing the pipe early stops xz with SIGPIPE: only a short read is an error.
  if (got < bytes && std::ferror(pipe.get())) {
    throw std::runtime_error("bulkmap_bench: reading '" + command + "' failed");
  }
  text.resize(got);
  if (text.empty()) throw std::runtime_error("bulkmap_bench: '" + command + "' gave no bytes");
  return text;
}

}  // namespace

corpus const& load_corpus(std::string const& path, std::size_t bytes) {
  static corpus loaded;
  if (!loaded.empty() || !std::filesystem::exists(path)) return loaded;
  loaded.path = path;
  loaded.text = read_prefix(path, bytes);
  std::unordered_map<std::string_view, std::uint64_t> counts;
  for_each_word(loaded.text, [&](std::string_view word) {
    ++counts[word];
    ++loaded.words;
  });
  loaded.distinct = counts.size();
  return loaded;
}

}  // namespace bulkmap_bench
