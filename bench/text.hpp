/**
 * @file text.hpp
 * @brief The words workload's input: the first bytes of a real text corpus, read once per process
 * and shared by every peer, with its word counts made independently of bulkmap.
 *
 * The corpus is a file, plain or xz-compressed (decompressed by `xz -dc`): by default Debian's
 * Linux kernel source tarball, a whole source tree of C, documentation and scripts (with tar's
 * headers between files, NUL bytes included). A word is a maximal run of bytes other than ASCII
 * whitespace (space, \t, \n, \v, \f, \r), as `bulkmap count --words` takes it by default.
 */
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace bulkmap_bench {

/// Debian's `linux-source-6.1` package: the default corpus.
inline constexpr char const* default_corpus = "/usr/src/linux-source-6.1.tar.xz";

/// The text the words workload counts.
struct corpus {
  std::string path;            ///< where it came from
  std::string text;            ///< its first bytes
  std::uint64_t words = 0;     ///< words in `text`
  std::uint64_t distinct = 0;  ///< distinct words in `text`
  [[nodiscard]] bool empty() const noexcept { return text.empty(); }
};

/// Whether byte `c` is ASCII whitespace, which separates words.
constexpr bool is_space(unsigned char c) noexcept { return c == ' ' || (c >= '\t' && c <= '\r'); }

/// Calls `f(word)` for each word of `text`, in order, as a `std::string_view` into it.
template <class F>
void for_each_word(std::string_view text, F f) {
  char const* p = text.data();
  char const* const end = p + text.size();
  while (p != end) {
    while (p != end && is_space(static_cast<unsigned char>(*p))) ++p;
    char const* const start = p;
    while (p != end && !is_space(static_cast<unsigned char>(*p))) ++p;
    if (p != start) f(std::string_view(start, static_cast<std::size_t>(p - start)));
  }
}

/**
 * @brief The first `bytes` bytes of the corpus at `path`, read on first use and kept for the rest
 * of the process, with `words` and `distinct` counted by `std::unordered_map`.
 * @return an empty corpus when the file is missing (the words benchmarks then skip)
 * @throw std::runtime_error if the file exists but cannot be read or decompressed
 */
corpus const& load_corpus(std::string const& path, std::size_t bytes);

}  // namespace bulkmap_bench
