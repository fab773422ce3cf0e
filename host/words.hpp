/**
 * @file words.hpp
 * @brief What `bulkmap count --words` calls a word, and `count_words`, which finds the words of a
 * chunk of text and counts them on the backend (portable: built by g++ for omp and nvcc for cuda;
 * the benchmark suite uses it too).
 *
 * A word is a maximal run of word bytes:
 * - by default, every byte but ASCII whitespace (space, \t, \n, \v, \f, \r), as Python's
 *   `bytes.split()` and C's `isspace` in the "C" locale; Rust's `split_ascii_whitespace` is the
 *   same but for \v, which it keeps in words;
 * - with `--alnum`, ASCII letters and digits and every byte from 0x80 up, so UTF-8 words stay
 *   whole and punctuation splits words.
 * NUL bytes and invalid UTF-8 are word bytes like any other.
 */
#pragma once

#include <thrust/device_vector.h>
#include <thrust/execution_policy.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/transform.h>

#include <bulkmap/bytes.hpp>
#include <bulkmap/config.hpp>
#include <bulkmap/detail/backend.hpp>
#include <cstddef>
#include <cstdint>

namespace bulkmap::cli {

/// Which bytes make words (see the file's comment).
enum class word_rule : std::uint8_t { not_whitespace, alnum };

/// Whether byte `c` belongs to a word under `rule`.
BULKMAP_HOST_DEVICE inline bool is_word_byte(unsigned char c, word_rule rule) {
  if (rule == word_rule::not_whitespace) return !(c == ' ' || (c >= '\t' && c <= '\r'));
  unsigned char const folded = c | 0x20;  // ASCII letters to lower case
  return (c >= '0' && c <= '9') || (folded >= 'a' && folded <= 'z') || c >= 0x80;
}

/// ASCII letters to lower case (`--lower`); every other byte as it is.
struct lower_ascii_fn {
  BULKMAP_HOST_DEVICE unsigned char operator()(unsigned char c) const {
    return c >= 'A' && c <= 'Z' ? static_cast<unsigned char>(c + ('a' - 'A')) : c;
  }
};

/**
 * Whether a word starts or ends at position i (0 <= i <= n) of the n bytes at `text`: whether
 * bytes i - 1 and i differ in being word bytes, the bytes before 0 and from n on being none.
 * Listed in order, these positions alternate: word j is `[bounds[2j], bounds[2j + 1])`.
 */
struct word_bound_fn {
  unsigned char const* text;
  std::uint64_t n;
  word_rule rule;

  BULKMAP_HOST_DEVICE bool operator()(std::uint64_t i) const {
    bool const before = i > 0 && is_word_byte(text[i - 1], rule);
    bool const here = i < n && is_word_byte(text[i], rule);
    return before != here;
  }
};

/// Word j as a `byte_view`, from the word bounds (see `word_bound_fn`).
struct word_view_fn {
  unsigned char const* text;
  std::uint32_t const* bounds;

  BULKMAP_HOST_DEVICE bulkmap::byte_view operator()(std::uint64_t j) const {
    return {text + bounds[2 * j], static_cast<std::uint64_t>(bounds[2 * j + 1] - bounds[2 * j])};
  }
};

/**
 * @brief Counts the words of the n bytes at `text` into `map`, on the backend: with `lower`,
 * folds ASCII letters to lower case in place; gathers the word bounds (`word_bound_fn`) with
 * bulkmap's compaction; then `map.count` takes the words as `byte_view`s into `text`, so no word
 * is copied before the map stores the new ones. A word cut off by the end of the n bytes counts
 * as it is: callers cut text after a non-word byte.
 * @param text device-accessible, fewer than 2^32 bytes
 * @param bounds scratch for the bounds, resized as needed (4 bytes per bound)
 * @return number of words counted
 */
template <class Map>
std::uint64_t count_words(unsigned char* text, std::size_t n, word_rule rule, bool lower, Map& map,
                          thrust::device_vector<std::uint32_t>& bounds) {
  if (lower) thrust::transform(thrust::device, text, text + n, text, lower_ascii_fn{});
  if (bounds.size() < n + 1) bounds.resize(n + 1);
  thrust::counting_iterator<std::uint64_t> const at(0);
  std::uint64_t const found = bulkmap::detail::copy_selected(
      "count words", thrust::device, at, n + 1, at, bounds.begin(), word_bound_fn{text, n, rule});
  std::uint64_t const words = found / 2;
  auto const views = thrust::make_transform_iterator(
      at, word_view_fn{text, thrust::raw_pointer_cast(bounds.data())});
  map.count(views, views + static_cast<std::ptrdiff_t>(words));
  return words;
}

}  // namespace bulkmap::cli
