/**
 * @file host_mirror.hpp
 * @brief `bulkmap::host_mirror`: a dense host-side snapshot of a map, for sequential work.
 *
 * Example: lower every count by one on the host, drop the zeros, and write the result back.
 * @code
 * auto mirror = map.to_host();
 * for (auto&& [k, v] : mirror) v -= 1;                  // k is Key const&, v is T&
 * mirror.retain([](auto const&, auto& v) { return v != 0; });
 * map.assign(mirror);
 * @endcode
 */
#pragma once

#include <algorithm>
#include <bulkmap/hash.hpp>
#include <cstddef>
#include <iterator>
#include <numeric>
#include <ostream>
#include <stdexcept>
#include <utility>
#include <vector>

namespace bulkmap {

/// Tag: the columns passed to `host_mirror` are already sorted by key, each key once.
struct sorted_unique_t {
  explicit sorted_unique_t() = default;
};
inline constexpr sorted_unique_t sorted_unique{};

/**
 * @brief Key/value pairs copied to host memory, sorted by key ascending, each key once.
 *
 * Rust counterpart: iterating a `HashMap` on the host (`iter`, `iter_mut`, `keys`, `values`,
 * `get`, `retain`, `drain`). It owns its data: the device map it came from may change without
 * touching it. Made by `device_map::to_host()`; written back by `device_map::assign(mirror)`.
 * Order: ascending key by `bulkmap::key_less` (Rust's is arbitrary). Single-threaded, like any
 * host container.
 */
template <class Key, class T>
class host_mirror {
 public:
  using key_type = Key;
  using mapped_type = T;
  using size_type = std::size_t;

  /// What iteration yields: `first` is `Key const&`, `second` is `T&` (or `T const&`).
  template <class V>
  using reference_pair = std::pair<Key const&, V&>;

  /// Random-access iterator over the pairs; dereferences to a pair of references.
  template <class V>
  class basic_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = std::pair<Key, std::remove_const_t<V>>;
    using difference_type = std::ptrdiff_t;
    using reference = reference_pair<V>;
    using pointer = void;

    basic_iterator() = default;
    basic_iterator(Key const* k, V* v) : k_(k), v_(v) {}
    reference operator*() const { return {*k_, *v_}; }
    reference operator[](difference_type n) const { return {k_[n], v_[n]}; }
    basic_iterator& operator++() { return ++k_, ++v_, *this; }
    basic_iterator operator++(int) {
      auto old = *this;
      return ++*this, old;
    }
    basic_iterator& operator--() { return --k_, --v_, *this; }
    basic_iterator operator--(int) {
      auto old = *this;
      return --*this, old;
    }
    basic_iterator& operator+=(difference_type n) { return k_ += n, v_ += n, *this; }
    basic_iterator& operator-=(difference_type n) { return k_ -= n, v_ -= n, *this; }
    friend basic_iterator operator+(basic_iterator it, difference_type n) { return it += n; }
    friend basic_iterator operator-(basic_iterator it, difference_type n) { return it -= n; }
    friend difference_type operator-(basic_iterator a, basic_iterator b) { return a.k_ - b.k_; }
    friend bool operator==(basic_iterator a, basic_iterator b) { return a.k_ == b.k_; }
    friend bool operator!=(basic_iterator a, basic_iterator b) { return a.k_ != b.k_; }
    friend bool operator<(basic_iterator a, basic_iterator b) { return a.k_ < b.k_; }

   private:
    Key const* k_ = nullptr;
    V* v_ = nullptr;
  };
  using iterator = basic_iterator<T>;
  using const_iterator = basic_iterator<T const>;

  /// An empty mirror. Rust: `HashMap::new()` on the host.
  host_mirror() = default;

  /**
   * @brief Takes pairs given as two columns, sorting them by key.
   * O(n log n).
   * @throw std::invalid_argument if the lengths differ or a key appears twice
   */
  host_mirror(std::vector<Key> keys, std::vector<T> values) {
    if (keys.size() != values.size()) {
      throw std::invalid_argument("bulkmap::host_mirror: keys and values differ in length");
    }
    std::vector<size_type> order(keys.size());
    std::iota(order.begin(), order.end(), size_type{0});
    std::sort(order.begin(), order.end(),
              [&](size_type a, size_type b) { return key_less<Key>{}(keys[a], keys[b]); });
    keys_.reserve(keys.size());
    values_.reserve(values.size());
    for (size_type i : order) {
      if (!keys_.empty() && equal_to<Key>{}(keys_.back(), keys[i])) {
        throw std::invalid_argument("bulkmap::host_mirror: a key appears twice");
      }
      keys_.push_back(keys[i]);
      values_.push_back(values[i]);
    }
  }

  /**
   * @brief Takes columns the caller guarantees sorted ascending by key, each key once. O(1).
   * @throw std::invalid_argument if the lengths differ
   */
  host_mirror(sorted_unique_t, std::vector<Key> keys, std::vector<T> values)
      : keys_(std::move(keys)), values_(std::move(values)) {
    if (keys_.size() != values_.size()) {
      throw std::invalid_argument("bulkmap::host_mirror: keys and values differ in length");
    }
  }

  /// Number of pairs. Rust: `len`. O(1).
  [[nodiscard]] size_type size() const noexcept { return keys_.size(); }
  /// Rust: `is_empty`. O(1).
  [[nodiscard]] bool empty() const noexcept { return keys_.empty(); }

  /// Sequential iteration in ascending key order. Rust: `iter_mut` (values are mutable).
  iterator begin() noexcept { return {keys_.data(), values_.data()}; }
  iterator end() noexcept { return begin() + static_cast<std::ptrdiff_t>(size()); }
  /// Rust: `iter`.
  const_iterator begin() const noexcept { return {keys_.data(), values_.data()}; }
  const_iterator end() const noexcept { return begin() + static_cast<std::ptrdiff_t>(size()); }

  /// The keys, ascending. Rust: `keys().copied().collect()`. O(1).
  [[nodiscard]] std::vector<Key> const& keys() const noexcept { return keys_; }
  /// The values, in the order of `keys()`. Rust: `values().copied().collect()`. O(1).
  [[nodiscard]] std::vector<T> const& values() const noexcept { return values_; }

  /// The value of `key`, or `nullptr` when absent. Rust: `get`. O(log n) (binary search).
  [[nodiscard]] T const* get(Key const& key) const noexcept {
    auto it = std::lower_bound(keys_.begin(), keys_.end(), key, key_less<Key>{});
    if (it == keys_.end() || !equal_to<Key>{}(*it, key)) return nullptr;
    return &values_[static_cast<size_type>(it - keys_.begin())];
  }

  /**
   * @brief Keeps the pairs for which `pred(key, value)` is true; visits each pair once, in
   * ascending key order, and may modify its value. Rust: `retain`. O(n).
   * @tparam Pred callable as `bool(Key const&, T&)`
   * @return number of pairs removed
   */
  template <class Pred>
  size_type retain(Pred pred) {
    size_type out = 0;
    for (size_type i = 0; i < keys_.size(); ++i) {
      if (pred(static_cast<Key const&>(keys_[i]), values_[i])) {
        keys_[out] = keys_[i];
        values_[out] = values_[i];
        ++out;
      }
    }
    size_type const removed = keys_.size() - out;
    keys_.resize(out);
    values_.resize(out);
    return removed;
  }

  /// Moves every pair out, ascending by key, and leaves the mirror empty. Rust: `drain`. O(n).
  std::vector<std::pair<Key, T>> drain() {
    std::vector<std::pair<Key, T>> out;
    out.reserve(keys_.size());
    for (size_type i = 0; i < keys_.size(); ++i) out.emplace_back(keys_[i], values_[i]);
    keys_.clear();
    values_.clear();
    return out;
  }

  /**
   * @brief Prints `{k: v, k: v}` in ascending key order. Numbers print in decimal (those of one
   * byte as numbers too), other keys and values as `0x` and the hex digits of their `key_bits`.
   * Rust: `Debug for HashMap` (`{:?}`). O(n).
   */
  friend std::ostream& operator<<(std::ostream& os, host_mirror const& mirror) {
    os << '{';
    for (size_type i = 0; i < mirror.size(); ++i) {
      if (i != 0) os << ", ";
      print(os, mirror.keys_[i]);
      os << ": ";
      print(os, mirror.values_[i]);
    }
    return os << '}';
  }

 private:
  template <class U>
  static void print(std::ostream& os, U const& x) {
    if constexpr (std::is_arithmetic_v<U> && sizeof(U) <= 8) {  // __int128 too, in GNU modes
      os << +x;
    } else {
      // No operator<< for 128-bit integers: digits by hand, least significant first.
      char digits[40];
      int n = 0;
      bool const integer = is_integer_v<U>;
      bool const negative = integer && key_less<U>{}(x, key_from_bits<U>(0));
      auto bits = key_bits(x);
      if (negative) bits = ~bits + 1;  // the magnitude, two's complement
      unsigned const base = integer ? 10 : 16;
      do {
        digits[n++] = "0123456789abcdef"[static_cast<unsigned>(bits % base)];
        bits /= base;
      } while (bits != 0);
      if (negative) os << '-';
      if (!integer) os << "0x";
      while (n > 0) os << digits[--n];
    }
  }

  std::vector<Key> keys_;
  std::vector<T> values_;
};

}  // namespace bulkmap
