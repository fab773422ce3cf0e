/**
 * @file string_mirror.hpp
 * @brief `bulkmap::string_mirror`: a dense host-side snapshot of a `string_map`, for sequential
 * work, with `std::string_view` keys.
 *
 * Example: print the words counted more than once, most frequent first.
 * @code
 * auto mirror = words.to_host();                              // ascending by bytes
 * mirror.retain([](std::string_view, std::uint64_t& n) { return n > 1; });
 * std::vector<std::pair<std::string, std::uint64_t>> top = mirror.drain();
 * std::sort(top.begin(), top.end(), [](auto& a, auto& b) { return a.second > b.second; });
 * @endcode
 */
#pragma once

#include <algorithm>
#include <bulkmap/bytes.hpp>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <ostream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace bulkmap {

/**
 * @brief Byte-string keys and their values in host memory, sorted ascending by key bytes
 * (compared as unsigned bytes, a shorter prefix first), each key once.
 *
 * Rust counterpart: iterating a `HashMap<Vec<u8>, T>` on the host (`iter`, `iter_mut`, `get`,
 * `retain`, `drain`). It owns its data: the `string_map` it came from may change without touching
 * it. Made by `string_map::to_host()`. Order: by bytes (Rust's is arbitrary). Single-threaded.
 */
template <class T>
class string_mirror {
 public:
  using mapped_type = T;
  using size_type = std::size_t;

  /// What iteration yields: `first` is the key, `second` is `T&` (or `T const&`).
  template <class V>
  using reference_pair = std::pair<std::string_view, V&>;

  /// Random-access iterator over the pairs; dereferences to a pair of a view and a reference.
  template <class Mirror, class V>
  class basic_iterator {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = std::pair<std::string_view, std::remove_const_t<V>>;
    using difference_type = std::ptrdiff_t;
    using reference = reference_pair<V>;
    using pointer = void;

    basic_iterator() = default;
    basic_iterator(Mirror* m, size_type i) : m_(m), i_(i) {}
    reference operator*() const { return {m_->key(i_), m_->values_[i_]}; }
    reference operator[](difference_type n) const { return *(*this + n); }
    basic_iterator& operator++() { return ++i_, *this; }
    basic_iterator operator++(int) {
      auto old = *this;
      return ++*this, old;
    }
    basic_iterator& operator--() { return --i_, *this; }
    basic_iterator operator--(int) {
      auto old = *this;
      return --*this, old;
    }
    basic_iterator& operator+=(difference_type n) {
      i_ = static_cast<size_type>(static_cast<difference_type>(i_) + n);
      return *this;
    }
    basic_iterator& operator-=(difference_type n) { return *this += -n; }
    friend basic_iterator operator+(basic_iterator it, difference_type n) { return it += n; }
    friend basic_iterator operator-(basic_iterator it, difference_type n) { return it -= n; }
    friend difference_type operator-(basic_iterator a, basic_iterator b) {
      return static_cast<difference_type>(a.i_) - static_cast<difference_type>(b.i_);
    }
    friend bool operator==(basic_iterator a, basic_iterator b) { return a.i_ == b.i_; }
    friend bool operator!=(basic_iterator a, basic_iterator b) { return a.i_ != b.i_; }
    friend bool operator<(basic_iterator a, basic_iterator b) { return a.i_ < b.i_; }

   private:
    Mirror* m_ = nullptr;
    size_type i_ = 0;
  };
  using iterator = basic_iterator<string_mirror, T>;
  using const_iterator = basic_iterator<string_mirror const, T const>;

  /// An empty mirror.
  string_mirror() = default;

  /**
   * @brief Takes pairs in the columnar layout (key i is `bytes[offsets[i], offsets[i + 1])`),
   * sorting them by key. O(n log n) comparisons of keys.
   * @throw std::invalid_argument if `offsets` does not have one entry more than `values`, does
   * not rise, or runs past `bytes`, or if a key appears twice
   */
  string_mirror(std::string bytes, std::vector<std::uint64_t> offsets, std::vector<T> values) {
    if (offsets.size() != values.size() + 1 || offsets.back() > bytes.size()) {
      throw std::invalid_argument(
          "bulkmap::string_mirror: offsets must have one entry more than values, within bytes");
    }
    for (size_type i = 0; i + 1 < offsets.size(); ++i) {
      if (offsets[i + 1] < offsets[i]) {
        throw std::invalid_argument("bulkmap::string_mirror: offsets must not decrease");
      }
    }
    std::string_view const all(bytes);
    auto const key = [&](size_type i) {
      return all.substr(offsets[i], offsets[i + 1] - offsets[i]);
    };
    // Sorted by each key's first 8 bytes first, held next to its index, so that most comparisons
    // read no key bytes (a third of the time, for millions of words).
    struct entry {
      std::uint64_t prefix;
      size_type index;
    };
    std::vector<entry> order(values.size());
    for (size_type i = 0; i < order.size(); ++i) order[i] = {prefix(key(i)), i};
    std::sort(order.begin(), order.end(), [&](entry const& a, entry const& b) {
      return a.prefix != b.prefix ? a.prefix < b.prefix : less(key(a.index), key(b.index));
    });
    bytes_.reserve(offsets.back() - offsets.front());
    offsets_.reserve(offsets.size());
    values_.reserve(values.size());
    for (entry const& e : order) {
      size_type const i = e.index;
      if (!values_.empty() && this->key(values_.size() - 1) == key(i)) {
        throw std::invalid_argument("bulkmap::string_mirror: a key appears twice");
      }
      bytes_.append(key(i));
      offsets_.push_back(bytes_.size());
      values_.push_back(values[i]);
    }
  }

  /// Number of pairs. Rust: `len`. O(1).
  [[nodiscard]] size_type size() const noexcept { return values_.size(); }
  /// Rust: `is_empty`. O(1).
  [[nodiscard]] bool empty() const noexcept { return values_.empty(); }

  /// Sequential iteration in ascending key order. Rust: `iter_mut` (values are mutable).
  iterator begin() noexcept { return {this, 0}; }
  iterator end() noexcept { return {this, size()}; }
  /// Rust: `iter`.
  const_iterator begin() const noexcept { return {this, 0}; }
  const_iterator end() const noexcept { return {this, size()}; }

  /// Key i (i < size()), a view into the mirror's bytes.
  [[nodiscard]] std::string_view key(size_type i) const {
    return std::string_view(bytes_).substr(offsets_[i], offsets_[i + 1] - offsets_[i]);
  }
  /// The values, in the order of the keys. Rust: `values().copied().collect()`. O(1).
  [[nodiscard]] std::vector<T> const& values() const noexcept { return values_; }

  /// The value of `key`, or `nullptr` when absent. Rust: `get`. O(log n) key comparisons.
  [[nodiscard]] T const* get(std::string_view key) const {
    size_type lo = 0, hi = size();
    while (lo < hi) {
      size_type const mid = lo + (hi - lo) / 2;
      if (less(this->key(mid), key)) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    if (lo == size() || this->key(lo) != key) return nullptr;
    return &values_[lo];
  }

  /**
   * @brief Keeps the pairs for which `pred(key, value)` is true; visits each pair once, in
   * ascending key order, and may modify its value. Rust: `retain`. O(total bytes).
   * @tparam Pred callable as `bool(std::string_view, T&)`
   * @return number of pairs removed
   */
  template <class Pred>
  size_type retain(Pred pred) {
    std::string bytes;
    std::vector<std::uint64_t> offsets{0};
    std::vector<T> values;
    for (size_type i = 0; i < size(); ++i) {
      if (pred(key(i), values_[i])) {
        bytes.append(key(i));
        offsets.push_back(bytes.size());
        values.push_back(values_[i]);
      }
    }
    size_type const removed = size() - values.size();
    bytes_.swap(bytes);
    offsets_.swap(offsets);
    values_.swap(values);
    return removed;
  }

  /// Moves every pair out, ascending by key, and leaves the mirror empty. Rust: `drain`. O(n).
  std::vector<std::pair<std::string, T>> drain() {
    std::vector<std::pair<std::string, T>> out;
    out.reserve(size());
    for (size_type i = 0; i < size(); ++i) out.emplace_back(std::string(key(i)), values_[i]);
    bytes_.clear();
    offsets_.assign(1, 0);
    values_.clear();
    return out;
  }

  /**
   * @brief Prints `{"k": v, ...}` in ascending key order, with the bytes outside printable ASCII,
   * `"` and `\` escaped as `\xHH`. Rust: `Debug for HashMap<Vec<u8>, T>` (`{:?}`). O(total bytes).
   */
  friend std::ostream& operator<<(std::ostream& os, string_mirror const& mirror) {
    os << '{';
    for (size_type i = 0; i < mirror.size(); ++i) {
      if (i != 0) os << ", ";
      os << '"';
      for (char c : mirror.key(i)) {
        auto const u = static_cast<unsigned char>(c);
        if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
          os << c;
        } else {
          os << "\\x"
             << "0123456789abcdef"[u >> 4] << "0123456789abcdef"[u & 15];
        }
      }
      os << "\": " << +mirror.values_[i];
    }
    return os << '}';
  }

  /// The order of the mirror: bytes compared as unsigned, a proper prefix first (what
  /// `std::string_view`'s `<` does: `char_traits<char>` compares as `unsigned char`).
  static bool less(std::string_view a, std::string_view b) noexcept { return a < b; }
  /// The first 8 bytes of `key`, zero-padded, as a big-endian number: keys whose prefixes
  /// differ sort as their prefixes do.
  static std::uint64_t prefix(std::string_view key) noexcept {
    return byte_view{reinterpret_cast<unsigned char const*>(key.data()), key.size()}.prefix();
  }

 private:
  std::string bytes_;
  std::vector<std::uint64_t> offsets_{0};
  std::vector<T> values_;
};

}  // namespace bulkmap
