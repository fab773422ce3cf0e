/**
 * @file kmer.hpp
 * @brief k-mer encoding for `bulkmap count --kmer`: the functors that run on the backend, and
 * the host-side decoding for output.
 *
 * A k-mer (1 <= k <= 64) is packed 2 bits a base, first base in the most significant bits, with
 * A=0, C=1, G=2, T=3: numeric order of the codes is lexicographic order of the strings. The
 * reverse complement of a code reverses the 2-bit groups and maps each b to 3-b. The canonical
 * k-mer is the smaller of the two (as `jellyfish count -C`).
 *
 * The code type (`Code`) is `std::uint64_t` for k <= 32 and `unsigned __int128` for 32 < k <= 64;
 * the same templates serve both.
 */
#pragma once

#include <bulkmap/config.hpp>
#include <cstddef>
#include <cstdint>

namespace bulkmap::cli {

/// Longest k-mer a code of type `Code` holds: 2 bits a base (32 for 64-bit, 64 for 128-bit codes).
template <class Code>
inline constexpr int kmer_capacity = static_cast<int>(4 * sizeof(Code));

/// Longest k-mer `bulkmap count --kmer` takes: what a 128-bit code holds.
inline constexpr int max_kmer_length = kmer_capacity<unsigned __int128>;

/// Longest k-mer the 64-bit path counts; longer ones take 128-bit codes.
inline constexpr int max_narrow_kmer_length = kmer_capacity<std::uint64_t>;

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
 * @tparam Code unsigned integer of 8 or 16 bytes (`std::uint64_t`, `unsigned __int128`), holding
 * k <= kmer_capacity<Code> bases
 */
template <class Code>
struct kmer_block {
  char const* bases;      ///< device-accessible bytes (sequences joined by an invalid separator)
  std::size_t positions;  ///< number of k-mer start positions: bytes - k + 1
  std::size_t block;      ///< positions a call encodes, at least 1
  int k;                  ///< k-mer length, 1 to kmer_capacity<Code>
  bool canonical;         ///< emit min(k-mer, reverse complement)
  Code* codes;            ///< device-accessible output, `positions` codes (0 where invalid)
  std::uint8_t* flags;    ///< device-accessible output, `positions` flags (1 = valid)

  BULKMAP_HOST_DEVICE void operator()(std::size_t b) const {
    std::size_t const first = b * block;
    std::size_t const last = first + block < positions ? first + block : positions;
    auto const length = static_cast<unsigned>(k);
    unsigned const top = 2u * (length - 1u);
    // At full capacity the shift would be by the code's width: undefined, so all ones instead.
    Code const mask = length == static_cast<unsigned>(kmer_capacity<Code>)
                          ? ~Code{0}
                          : (Code{1} << (2u * length)) - 1u;
    Code forward = 0;
    Code reverse = 0;
    unsigned run = 0;  // valid bases in a row up to base j (capped at k)
    // Base j ends the k-mer that starts at j - (k - 1).
    for (std::size_t j = first; j + 1 < last + length; ++j) {
      unsigned const code = base_code(bases[j]);
      if (code > 3) {
        run = 0;
      } else {
        forward = ((forward << 2) | code) & mask;
        reverse = (reverse >> 2) | (static_cast<Code>(3u - code) << top);
        run = run < length ? run + 1 : length;
      }
      if (j + 1 >= first + length) {
        std::size_t const i = j + 1 - length;
        bool const valid = run == length;
        codes[i] = valid ? (canonical && reverse < forward ? reverse : forward) : Code{0};
        flags[i] = valid ? 1 : 0;
      }
    }
  }
};

/// Stencil predicate for thrust::copy_if: the validity flag `kmer_block` wrote.
struct is_valid_kmer {
  BULKMAP_HOST_DEVICE bool operator()(std::uint8_t flag) const noexcept { return flag != 0; }
};

/// Writes the k bases of `code` (upper case) to `out[0, k)`, k <= kmer_capacity<Code>. Host only.
template <class Code>
void decode_kmer(Code code, int k, char* out) noexcept {
  constexpr char letters[4] = {'A', 'C', 'G', 'T'};
  for (int j = k - 1; j >= 0; --j) {
    out[j] = letters[static_cast<unsigned>(code & 3u)];
    code >>= 2;
  }
}

}  // namespace bulkmap::cli
