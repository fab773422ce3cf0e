/**
 * @file kmer.hpp
 * @brief k-mer encoding for `bulkmap count --kmer`: the functors that run on the backend, and
 * the host-side decoding for output.
 *
 * A k-mer (1 <= k <= 32) is packed 2 bits a base, first base in the most significant bits, with
 * A=0, C=1, G=2, T=3: numeric order of the codes is lexicographic order of the strings. The
 * reverse complement of a code reverses the 2-bit groups and maps each b to 3-b. The canonical
 * k-mer is the smaller of the two (as `jellyfish count -C`).
 */
#pragma once

#include <bulkmap/config.hpp>
#include <cstddef>
#include <cstdint>

namespace bulkmap::cli {

/// Longest k-mer a 64-bit key holds.
inline constexpr int max_kmer_length = 32;

/// 2-bit code of a base: A/a=0, C/c=1, G/g=2, T/t=3; 4 for any other byte.
BULKMAP_HOST_DEVICE inline unsigned base_code(char c) noexcept {
  // c | 0x20 lower-cases letters; among all bytes only 'A' and 'a' map to 'a', and so on.
  switch (c | 0x20) {
    case 'a':
      return 0;
    case 'c':
      return 1;
    case 'g':
      return 2;
    case 't':
      return 3;
    default:
      return 4;
  }
}

/**
 * @brief Encodes the k-mers starting at positions [b * block, (b + 1) * block) of a byte array,
 * for block b: writes each position's code and whether it is valid (all k bases in ACGTacgt).
 * Run with thrust::for_each_n over the blocks of positions [0, positions).
 *
 * Within a block the codes roll (one base in, one out), so a block costs block + k - 1 base
 * reads instead of block * k. `block` = 1 gives one position per call (what suits a GPU thread);
 * larger blocks suit CPU threads.
 */
struct kmer_block {
  char const* bases;      ///< device-accessible bytes (sequences joined by an invalid separator)
  std::size_t positions;  ///< number of k-mer start positions: bytes - k + 1
  std::size_t block;      ///< positions a call encodes, at least 1
  int k;                  ///< k-mer length, 1 to 32
  bool canonical;         ///< emit min(k-mer, reverse complement)
  std::uint64_t* codes;   ///< device-accessible output, `positions` codes (0 where invalid)
  std::uint8_t* flags;    ///< device-accessible output, `positions` flags (1 = valid)

  BULKMAP_HOST_DEVICE void operator()(std::size_t b) const {
    std::size_t const first = b * block;
    std::size_t const last = first + block < positions ? first + block : positions;
    auto const length = static_cast<unsigned>(k);
    unsigned const top = 2u * (length - 1u);
    std::uint64_t const mask =
        length == 32u ? ~std::uint64_t{0} : (std::uint64_t{1} << (2u * length)) - 1u;
    std::uint64_t forward = 0;
    std::uint64_t reverse = 0;
    unsigned run = 0;  // valid bases in a row up to base j (capped at k)
    // Base j ends the k-mer that starts at j - (k - 1).
    for (std::size_t j = first; j + 1 < last + length; ++j) {
      unsigned const code = base_code(bases[j]);
      if (code > 3) {
        run = 0;
      } else {
        forward = ((forward << 2) | code) & mask;
        reverse = (reverse >> 2) | (static_cast<std::uint64_t>(3u - code) << top);
        run = run < length ? run + 1 : length;
      }
      if (j + 1 >= first + length) {
        std::size_t const i = j + 1 - length;
        bool const valid = run == length;
        codes[i] = valid ? (canonical && reverse < forward ? reverse : forward) : 0;
        flags[i] = valid ? 1 : 0;
      }
    }
  }
};

/// Stencil predicate for thrust::copy_if: the validity flag `kmer_at` wrote.
struct is_valid_kmer {
  BULKMAP_HOST_DEVICE bool operator()(std::uint8_t flag) const noexcept { return flag != 0; }
};

/// Writes the k bases of `code` (upper case) to `out[0, k)`. Host only.
inline void decode_kmer(std::uint64_t code, int k, char* out) noexcept {
  constexpr char letters[4] = {'A', 'C', 'G', 'T'};
  for (int j = k - 1; j >= 0; --j) {
    out[j] = letters[code & 3u];
    code >>= 2;
  }
}

}  // namespace bulkmap::cli
