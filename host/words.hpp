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
#include <thrust/for_each.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/iterator/transform_iterator.h>
#include <thrust/scan.h>
#include <thrust/transform.h>

#include <bulkmap/bytes.hpp>
#include <bulkmap/config.hpp>
#include <bulkmap/detail/backend.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <cuda/std/bit>

namespace bulkmap::cli {

/// The bytes of text `count_words` takes at a time by default (`bulkmap count --words`, the
/// benchmark): its word bounds take up to 4 bytes per byte.
inline constexpr std::size_t word_chunk_bytes = std::size_t{16} << 20;

/// Which bytes make words (see the file's comment).
enum class word_rule : std::uint8_t { not_whitespace, alnum };

/// Whether byte `c` belongs to a word under `rule`.
BULKMAP_HOST_DEVICE inline bool is_word_byte(unsigned char c, word_rule rule) {
  if (rule == word_rule::not_whitespace) return !(c == ' ' || (c >= '\t' && c <= '\r'));
  unsigned char const folded = c | 0x20;  // ASCII letters to lower case
  return (c >= '0' && c <= '9') || (folded >= 'a' && folded <= 'z') || c >= 0x80;
}

/// Where a chunk of text read from an input is cut for counting: after its last non-word byte,
/// so that a word going on into the next read is held back whole; at `size` when the input ends
/// there (`end`). 0 when the whole chunk is one unfinished word.
inline std::size_t chunk_cut(unsigned char const* text, std::size_t size, bool end,
                             word_rule rule) {
  std::size_t cut = size;
  if (!end) {
    while (cut > 0 && is_word_byte(text[cut - 1], rule)) --cut;
  }
  return cut;
}

/// ASCII letters to lower case (`--lower`); every other byte as it is.
struct lower_ascii_fn {
  BULKMAP_HOST_DEVICE unsigned char operator()(unsigned char c) const {
    return c >= 'A' && c <= 'Z' ? static_cast<unsigned char>(c + ('a' - 'A')) : c;
  }
};

/**
 * Bit k: whether byte k of the 8 bytes `x` (little-endian: byte 0 lowest) is a word byte under
 * `Rule`; `is_word_byte` on all 8 at once (SWAR: each byte's test lands in its high bit, with no
 * carry between bytes, and a multiply gathers the 8 high bits).
 */
template <word_rule Rule>
BULKMAP_HOST_DEVICE inline std::uint64_t word_bits(std::uint64_t x) {
  constexpr std::uint64_t ones = 0x0101010101010101ULL;
  constexpr std::uint64_t high = 0x80 * ones;
  constexpr std::uint64_t low = 0x7f * ones;
  std::uint64_t const v = x & low;  // each byte's low 7 bits
  // High bit of each byte of v7 (bytes below 0x80) that is at least c (1 <= c <= 0x80).
  auto const at_least = [&](std::uint64_t v7, unsigned c) {
    return (v7 + (0x80 - c) * ones) & high;
  };
  std::uint64_t word;
  if constexpr (Rule == word_rule::not_whitespace) {
    std::uint64_t const control = at_least(v, '\t') & ~at_least(v, '\r' + 1);  // \t \n \v \f \r
    std::uint64_t const space = ~((v ^ (' ' * ones)) + low) & high;
    word = ~((control | space) & ~x) & high;
  } else {
    std::uint64_t const digit = at_least(v, '0') & ~at_least(v, '9' + 1);
    std::uint64_t const folded = v | (0x20 * ones);  // ASCII letters to lower case
    std::uint64_t const letter = at_least(folded, 'a') & ~at_least(folded, 'z' + 1);
    word = (digit | letter | x) & high;
  }
  return ((word >> 7) * 0x0102040810204080ULL) >> 56;
}

/**
 * Where words start and end, 64 positions at a time: bit j of `operator()(b)` tells whether a
 * word starts or ends at position i = 64b + j (0 <= i <= n) of the n bytes at `text`, that is,
 * whether bytes i - 1 and i differ in being word bytes, the bytes before 0 and from n on being
 * none. Listed in order, these positions alternate: word k is `[bounds[2k], bounds[2k + 1])`.
 * A whole block is read 8 bytes at a time (`word_bits`); the rule is a template parameter, so
 * its tests compile into the loop.
 */
template <word_rule Rule>
struct bound_mask_fn {
  unsigned char const* text;
  std::uint64_t n;

  BULKMAP_HOST_DEVICE std::uint64_t operator()(std::uint64_t b) const {
    std::uint64_t const first = 64 * b;
    std::uint64_t words = 0;  // bit j: byte first + j is a word byte
    if (first + 64 <= n) {
      for (int k = 0; k < 8; ++k) {
        std::uint64_t x;
        memcpy(&x, text + first + 8 * k, 8);
        words |= word_bits<Rule>(x) << (8 * k);
      }
    } else {
      for (std::uint64_t j = 0; first + j < n; ++j) {
        words |= static_cast<std::uint64_t>(is_word_byte(text[first + j], Rule)) << j;
      }
    }
    std::uint64_t const before = first > 0 && is_word_byte(text[first - 1], Rule) ? 1 : 0;
    return words ^ ((words << 1) | before);
  }
};

/// Blocks of 64 positions per task of the word-bounds passes: a thread's run of 64 KiB of text
/// on omp, one block per thread on cuda.
inline constexpr std::uint64_t bound_blocks_per_task = bulkmap::backend_is_cuda ? 1 : 1024;

/// Word-bounds pass 1: how many bounds task t's blocks hold.
template <word_rule Rule>
struct count_bounds_fn {
  bound_mask_fn<Rule> mask;
  std::uint64_t blocks;
  std::uint64_t* counts;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t t) const {
    std::uint64_t const first = t * bound_blocks_per_task;
    std::uint64_t const last =
        first + bound_blocks_per_task < blocks ? first + bound_blocks_per_task : blocks;
    std::uint64_t c = 0;
    for (std::uint64_t b = first; b < last; ++b) c += cuda::std::popcount(mask(b));
    counts[t] = c;
  }
};

/// Word-bounds pass 2: writes task t's bounds in order, from the total of the tasks before it
/// (`ends`: the inclusive sums of pass 1's counts).
template <word_rule Rule>
struct write_bounds_fn {
  bound_mask_fn<Rule> mask;
  std::uint64_t blocks;
  std::uint64_t const* ends;
  std::uint32_t* bounds;

  BULKMAP_HOST_DEVICE void operator()(std::uint64_t t) const {
    std::uint64_t const first = t * bound_blocks_per_task;
    std::uint64_t const last =
        first + bound_blocks_per_task < blocks ? first + bound_blocks_per_task : blocks;
    std::uint64_t at = t > 0 ? ends[t - 1] : 0;
    for (std::uint64_t b = first; b < last; ++b) {
      for (std::uint64_t m = mask(b); m != 0; m &= m - 1) {
        bounds[at++] = static_cast<std::uint32_t>(64 * b + cuda::std::countr_zero(m));
      }
    }
  }
};

/// Word k as a `byte_view`, from the word bounds (see `bound_mask_fn`).
struct word_view_fn {
  unsigned char const* text;
  std::uint32_t const* bounds;

  BULKMAP_HOST_DEVICE bulkmap::byte_view operator()(std::uint64_t k) const {
    return {text + bounds[2 * k], static_cast<std::uint64_t>(bounds[2 * k + 1] - bounds[2 * k])};
  }
};

/// The device scratch of `count_words`, kept between chunks.
struct word_scratch {
  thrust::device_vector<std::uint32_t> bounds;     ///< where the chunk's words start and end
  thrust::device_vector<std::uint64_t> task_ends;  ///< inclusive sums of bounds per task
};

/// The bounds of the words of the n bytes at `text` into `scratch.bounds`; returns how many.
template <word_rule Rule>
std::uint64_t word_bounds(unsigned char const* text, std::size_t n, word_scratch& scratch) {
  return bulkmap::detail::translate_errors("count words", [&] {
    std::uint64_t const blocks = (n + 1 + 63) / 64;  // positions 0 to n
    std::uint64_t const tasks = (blocks + bound_blocks_per_task - 1) / bound_blocks_per_task;
    if (scratch.task_ends.size() < tasks) scratch.task_ends.resize(tasks);
    std::uint64_t* const ends = thrust::raw_pointer_cast(scratch.task_ends.data());
    bound_mask_fn<Rule> const mask{text, n};
    thrust::counting_iterator<std::uint64_t> const at(0);
    thrust::for_each_n(thrust::device, at, tasks, count_bounds_fn<Rule>{mask, blocks, ends});
    thrust::inclusive_scan(thrust::device, ends, ends + tasks, ends);
    std::uint64_t const total = scratch.task_ends[tasks - 1];
    if (scratch.bounds.size() < total) scratch.bounds.resize(total);
    thrust::for_each_n(
        thrust::device, at, tasks,
        write_bounds_fn<Rule>{mask, blocks, ends, thrust::raw_pointer_cast(scratch.bounds.data())});
    return total;
  });
}

/**
 * @brief Counts the words of the n bytes at `text` into `map`, on the backend: with `lower`,
 * folds ASCII letters to lower case in place; finds the word bounds 64 bytes at a time
 * (`bound_mask_fn`: two passes over the text and a scan of one count per task); then
 * `map.count` takes the words as `byte_view`s into `text`, so no word is copied before the map
 * stores the new ones. A word cut off by the end of the n bytes counts as it is: callers cut
 * text after a non-word byte.
 * @param text device-accessible, fewer than 2^32 bytes
 * @param scratch kept between calls, grown as needed (up to 4 bytes per word bound)
 * @return number of words counted
 * @throw bulkmap::out_of_memory
 */
template <class Map>
std::uint64_t count_words(unsigned char* text, std::size_t n, word_rule rule, bool lower, Map& map,
                          word_scratch& scratch) {
  if (n == 0) return 0;
  if (lower) thrust::transform(thrust::device, text, text + n, text, lower_ascii_fn{});
  std::uint64_t const found = rule == word_rule::alnum
                                  ? word_bounds<word_rule::alnum>(text, n, scratch)
                                  : word_bounds<word_rule::not_whitespace>(text, n, scratch);
  std::uint64_t const words = found / 2;
  auto const views = thrust::make_transform_iterator(
      thrust::counting_iterator<std::uint64_t>(0),
      word_view_fn{text, thrust::raw_pointer_cast(scratch.bounds.data())});
  map.count(views, views + static_cast<std::ptrdiff_t>(words));
  return words;
}

}  // namespace bulkmap::cli
