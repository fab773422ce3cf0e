/**
 * @file hash.hpp
 * @brief The default hash and key equality of `bulkmap::device_map`.
 */
#pragma once

#include <bulkmap/config.hpp>
#include <cstdint>
#include <type_traits>

namespace bulkmap {

/**
 * @brief murmur3's 64-bit finalizer (fmix64): a bijection on 64-bit words with full avalanche.
 * O(1), callable on host and device.
 */
BULKMAP_HOST_DEVICE constexpr std::uint64_t fmix64(std::uint64_t x) noexcept {
  x ^= x >> 33;
  x *= 0xff51afd7ed558ccdULL;
  x ^= x >> 33;
  x *= 0xc4ceb9fe1a85ec53ULL;
  x ^= x >> 33;
  return x;
}

/**
 * @brief Default hash for integral keys: fmix64 of the key's bits, zero-extended to 64 bits.
 * Rust counterpart: `std::hash::BuildHasher` (`RandomState`); unlike Rust, it is not seeded, so
 * hashes and probe sequences are the same in every run.
 * @tparam Key an integral type of 1 to 8 bytes
 */
template <class Key>
struct hash {
  static_assert(std::is_integral_v<Key> && !std::is_same_v<Key, bool> && sizeof(Key) <= 8,
                "bulkmap::hash: the default hash takes integral keys of 1 to 8 bytes");
  BULKMAP_HOST_DEVICE constexpr std::uint64_t operator()(Key key) const noexcept {
    return fmix64(static_cast<std::uint64_t>(static_cast<std::make_unsigned_t<Key>>(key)));
  }
};

/// Default key equality: `a == b`. Rust counterpart: the `Eq` bound on `HashMap` keys.
template <class Key>
struct equal_to {
  BULKMAP_HOST_DEVICE constexpr bool operator()(Key const& a, Key const& b) const noexcept {
    return a == b;
  }
};

}  // namespace bulkmap
