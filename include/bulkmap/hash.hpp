/**
 * @file hash.hpp
 * @brief What a key type needs: which types are keys, the default hash, key equality and order.
 *
 * Keys are integers of 1 to 8 bytes, 16-byte integers (`__int128`, `unsigned __int128`), and
 * any trivially copyable type of at most 16 bytes without padding bits (a struct of integers, for
 * example) that comes with a `bulkmap::hash` specialization. Keys are compared by their bits:
 * two keys are equal when their object representations are. Example, a struct key:
 * @code
 * struct pair_key { std::uint64_t a, b; };
 * template <> struct bulkmap::hash<pair_key> {
 *   BULKMAP_HOST_DEVICE std::uint64_t operator()(pair_key const& k) const noexcept {
 *     return bulkmap::hash<unsigned __int128>{}(bulkmap::key_bits(k));
 *   }
 * };
 * bulkmap::device_map<pair_key, std::uint32_t> counts;
 * @endcode
 */
#pragma once

#include <bulkmap/config.hpp>
#include <cstdint>
#include <cstring>
#include <type_traits>

namespace bulkmap {

/**
 * @brief Whether `U` is an integer type: `char` to `long long` and their unsigned forms,
 * `__int128` and `unsigned __int128` (not `bool`). Integer keys hash, compare and print as
 * numbers.
 */
template <class U>
inline constexpr bool is_integer_v =
    (std::is_integral_v<U> && !std::is_same_v<U, bool>) || std::is_same_v<U, __int128> ||
    std::is_same_v<U, unsigned __int128>;

/**
 * @brief Whether `Key` can be a `device_map` key: an integer key type, or a trivially copyable
 * type of at most 16 bytes whose bits are its value (no padding bits; no `float`, whose +0 and
 * -0 differ in bits).
 */
template <class Key>
inline constexpr bool is_key_v = is_integer_v<Key> ||
                                 (sizeof(Key) <= 16 && std::is_trivially_copyable_v<Key> &&
                                  std::has_unique_object_representations_v<Key> &&
                                  !std::is_same_v<Key, bool>);

/**
 * @brief Whether `T` can be a `device_map` value: an integer or floating type of 4 or 8 bytes,
 * `__int128`, `unsigned __int128`, or a trivially copyable type of 4, 8 or 16 bytes without
 * padding bits (a struct of two counters, say). Values of 16 bytes take 128-bit atomics.
 */
template <class T>
inline constexpr bool is_value_v =
    !std::is_same_v<T, bool> && (sizeof(T) == 4 || sizeof(T) == 8 || sizeof(T) == 16) &&
    (std::is_arithmetic_v<T> || is_integer_v<T> ||
     (std::is_trivially_copyable_v<T> && std::has_unique_object_representations_v<T>));

/// The unsigned integer holding a key's bits: 32, 64 or 128 bits, the smallest that fits.
template <class Key>
using key_word_t =
    std::conditional_t<sizeof(Key) <= 4, std::uint32_t,
                       std::conditional_t<sizeof(Key) <= 8, std::uint64_t, unsigned __int128>>;

/**
 * @brief The bits of `key` as an unsigned integer, zero-extended to `key_word_t<Key>`: the key's
 * value modulo 2^bits for integer keys, its bytes read little-endian for other types. O(1).
 */
template <class Key>
BULKMAP_HOST_DEVICE inline key_word_t<Key> key_bits(Key const& key) noexcept {
  static_assert(is_key_v<Key>, "bulkmap::key_bits: not a key type (see bulkmap::is_key_v)");
  using word = key_word_t<Key>;
  if constexpr (is_integer_v<Key> && sizeof(Key) == 16) {
    return static_cast<word>(key);
  } else if constexpr (is_integer_v<Key>) {
    return static_cast<word>(static_cast<std::make_unsigned_t<Key>>(key));
  } else {
    word w = 0;
    memcpy(&w, &key, sizeof(Key));
    return w;
  }
}

/// The key whose bits `key_bits` returned: its inverse. O(1).
template <class Key>
BULKMAP_HOST_DEVICE inline Key key_from_bits(key_word_t<Key> w) noexcept {
  if constexpr (is_integer_v<Key>) {
    return static_cast<Key>(w);
  } else {
    Key key;
    memcpy(&key, &w, sizeof(Key));
    return key;
  }
}

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
 * @brief Default hash of the integer key types: fmix64 of the key's bits; for 16-byte keys,
 * fmix64 of the low 64 bits xor the fmix64 of the high 64 bits plus a constant (so neither half
 * can cancel the other out). O(1), callable on host and device.
 * Rust counterpart: `std::hash::BuildHasher` (`RandomState`); unlike Rust, it is not seeded, so
 * hashes and probe sequences are the same in every run.
 * Other key types (structs) specialize `bulkmap::hash` themselves; see the file's example.
 * @tparam Key an integer key type (`is_integer_v`)
 */
template <class Key>
struct hash {
  static_assert(is_integer_v<Key>,
                "bulkmap::hash: the default hash takes integer keys; specialize bulkmap::hash<Key> "
                "for other key types (hash.hpp shows how)");
  BULKMAP_HOST_DEVICE constexpr std::uint64_t operator()(Key const& key) const noexcept {
    if constexpr (sizeof(Key) == 16) {
      auto const bits = static_cast<unsigned __int128>(key);
      auto const low = static_cast<std::uint64_t>(bits);
      auto const high = static_cast<std::uint64_t>(bits >> 64);
      return fmix64(low ^ fmix64(high + 0x9e3779b97f4a7c15ULL));
    } else {
      return fmix64(static_cast<std::uint64_t>(static_cast<std::make_unsigned_t<Key>>(key)));
    }
  }
};

/**
 * @brief Default key equality: equal bits (`a == b` for integer keys). Rust counterpart: the
 * `Eq` bound on `HashMap` keys. Equal keys must hash equally.
 */
template <class Key>
struct equal_to {
  BULKMAP_HOST_DEVICE bool operator()(Key const& a, Key const& b) const noexcept {
    return key_bits(a) == key_bits(b);
  }
};

/**
 * @brief The order of sorted results (`to_host`, `host_mirror`, `operator<<`): by value for
 * integer keys, by `key_bits` (unsigned) for other key types. Rust counterpart: `Ord`, as a
 * `BTreeMap` of the pairs would use it.
 */
template <class Key>
struct key_less {
  BULKMAP_HOST_DEVICE bool operator()(Key const& a, Key const& b) const noexcept {
    if constexpr (is_integer_v<Key>) {
      return a < b;
    } else {
      return key_bits(a) < key_bits(b);
    }
  }
};

}  // namespace bulkmap
