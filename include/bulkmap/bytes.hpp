/**
 * @file bytes.hpp
 * @brief Byte-string keys: `byte_view` (a key's bytes, as `string_map` hands them to device
 * code), the default byte-string hash, and `string_batch` (a host batch in the columnar layout:
 * one byte buffer and offsets).
 *
 * A key is any sequence of bytes: empty, longer than 64 KiB, holding NUL or invalid UTF-8.
 * Two keys are equal when their lengths and bytes are.
 */
#pragma once

#include <bulkmap/config.hpp>
#include <bulkmap/hash.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace bulkmap {

/**
 * @brief `size` bytes at `data`, in memory the code that reads them can reach (device memory in
 * device code). What `string_map::retain` predicates receive as the key; it points into the
 * map's storage and is valid during the call only. Rust counterpart: `&[u8]`.
 */
struct byte_view {
  unsigned char const* data = nullptr;
  std::uint64_t size = 0;

  /// Byte i (i < size).
  BULKMAP_HOST_DEVICE unsigned char operator[](std::uint64_t i) const noexcept { return data[i]; }

  /// The same bytes as a `std::string_view` (host code, host memory).
  [[nodiscard]] std::string_view view() const noexcept {
    return {reinterpret_cast<char const*>(data), static_cast<std::size_t>(size)};
  }

  /// Equal lengths and bytes. O(size).
  BULKMAP_HOST_DEVICE friend bool operator==(byte_view a, byte_view b) noexcept {
    if (a.size != b.size) return false;
    std::uint64_t i = 0;
    for (; i + 8 <= a.size; i += 8) {
      std::uint64_t x, y;
      memcpy(&x, a.data + i, 8);
      memcpy(&y, b.data + i, 8);
      if (x != y) return false;
    }
    for (; i < a.size; ++i) {
      if (a.data[i] != b.data[i]) return false;
    }
    return true;
  }
  BULKMAP_HOST_DEVICE friend bool operator!=(byte_view a, byte_view b) noexcept {
    return !(a == b);
  }

  /// The first 8 bytes, zero-padded, as a big-endian number: views whose prefixes differ are
  /// ordered (`<`) as their prefixes are. O(1).
  BULKMAP_HOST_DEVICE std::uint64_t prefix() const noexcept {
    std::uint64_t p = 0;
    for (std::uint64_t j = 0; j < 8; ++j) p = (p << 8) | (j < size ? data[j] : 0u);
    return p;
  }

  /// Bytewise order: the first differing byte decides, compared as unsigned; a proper prefix
  /// comes first (the order of `memcmp`, and of `std::string_view`). O(common prefix).
  BULKMAP_HOST_DEVICE friend bool operator<(byte_view a, byte_view b) noexcept {
    std::uint64_t const common = a.size < b.size ? a.size : b.size;
    for (std::uint64_t i = 0; i < common; ++i) {
      if (a.data[i] != b.data[i]) return a.data[i] < b.data[i];
    }
    return a.size < b.size;
  }

  /// The bytes of a view shorter than 8 bytes as one little-endian word, zero above: the first
  /// byte lowest, as they lie in memory. Reads no byte outside the view, with at most three
  /// loads. O(1); requires size < 8.
  BULKMAP_HOST_DEVICE std::uint64_t short_word() const noexcept {
    if (size >= 4) {
      std::uint32_t lo, hi;
      memcpy(&lo, data, 4);
      memcpy(&hi, data + size - 4, 4);  // overlaps `lo` by 8 - size bytes, which agree
      return lo | (static_cast<std::uint64_t>(hi) << (8 * (size - 4)));
    }
    if (size == 0) return 0;
    return data[0] | (static_cast<std::uint64_t>(data[size / 2]) << (8 * (size / 2))) |
           (static_cast<std::uint64_t>(data[size - 1]) << (8 * (size - 1)));
  }
};

/**
 * @brief Default hash of byte strings: 8 bytes at a time, each word multiplied in and rotated,
 * the length mixed in first and fmix64 at the end, so every input bit reaches every output bit.
 * Not keyed: the same bytes hash the same in every run. O(size), callable on host and device.
 * Rust counterpart: `Hash for [u8]` with `BuildHasher`; like `bulkmap::hash`, not seeded.
 */
struct bytes_hash {
  BULKMAP_HOST_DEVICE std::uint64_t operator()(byte_view key) const noexcept {
    std::uint64_t h = fmix64(key.size + 0x9e3779b97f4a7c15ULL);
    std::uint64_t i = 0;
    auto const mix = [&](std::uint64_t w) {
      h ^= w * 0xbf58476d1ce4e5b9ULL;
      h = ((h << 31) | (h >> 33)) * 0x94d049bb133111ebULL;
    };
    for (; i + 8 <= key.size; i += 8) {
      std::uint64_t w;
      memcpy(&w, key.data + i, 8);
      mix(w);
    }
    // The last 1 to 7 bytes, zero-padded (the length tells them apart).
    if (i < key.size) mix(byte_view{key.data + i, key.size - i}.short_word());
    return fmix64(h);
  }
};

/**
 * @brief A batch of byte-string keys on the host in the columnar layout: key i is
 * `bytes[offsets[i], offsets[i + 1])`, so `offsets` has one entry more than there are keys.
 * The host overloads of `string_map` take it (and copy it to the device on the cuda backend).
 * Rust counterpart: a `Vec<Vec<u8>>`, flattened.
 */
struct string_batch {
  std::string bytes;
  std::vector<std::uint64_t> offsets{0};

  string_batch() = default;
  /// The keys `keys`, in order. O(total bytes).
  string_batch(std::vector<std::string> const& keys) {  // NOLINT: implicit, like a literal
    std::size_t total = 0;
    for (auto const& k : keys) total += k.size();
    bytes.reserve(total);
    offsets.reserve(keys.size() + 1);
    for (auto const& k : keys) push_back(k);
  }

  /// Appends one key. Amortized O(key.size()).
  void push_back(std::string_view key) {
    bytes.append(key);
    offsets.push_back(bytes.size());
  }
  /// Number of keys.
  [[nodiscard]] std::size_t size() const noexcept { return offsets.size() - 1; }
  /// Key i.
  [[nodiscard]] std::string_view operator[](std::size_t i) const {
    return std::string_view(bytes).substr(offsets[i], offsets[i + 1] - offsets[i]);
  }
};

}  // namespace bulkmap
