/**
 * @file fault_allocator.hpp
 * @brief An allocator for bulkmap's maps that counts what it hands out and fails the allocation
 * the caller names (fault injection). Used by the tests (tests/allocator.inc, string_map.inc) and
 * by the differential fuzzer (tests/fuzz). Needs no test framework.
 */
#pragma once

#include <thrust/device_allocator.h>

#include <algorithm>
#include <cstddef>
#include <new>
#include <type_traits>

namespace bulkmap_test {

/// What every copy of one `counting_allocator` shares: the bytes it handed out and the fault to
/// inject.
struct ledger {
  std::size_t live = 0;           ///< bytes allocated and not yet freed
  std::size_t peak = 0;           ///< most bytes live at once since the last `reset_peak()`
  std::size_t attempts = 0;       ///< calls of `allocate`, failed ones included
  std::size_t allocations = 0;    ///< successful calls of `allocate`
  std::size_t deallocations = 0;  ///< calls of `deallocate`
  std::size_t fail_at = 0;        ///< the attempt (1-based) that throws std::bad_alloc; 0: none
  void reset_peak() { peak = live; }
};

/// Thrust's device allocator, counting into a ledger and failing where the ledger says.
template <class U>
class counting_allocator : public thrust::device_allocator<U> {
  using base = thrust::device_allocator<U>;

 public:
  using pointer = typename base::pointer;
  using size_type = typename base::size_type;
  using propagate_on_container_copy_assignment = std::true_type;
  using propagate_on_container_move_assignment = std::true_type;
  using propagate_on_container_swap = std::true_type;
  template <class V>
  struct rebind {
    using other = counting_allocator<V>;
  };

  counting_allocator() = default;
  explicit counting_allocator(ledger* book) : book(book) {}
  template <class V>
  counting_allocator(counting_allocator<V> const& other) : book(other.book) {}

  pointer allocate(size_type n) {
    if (book != nullptr && ++book->attempts == book->fail_at) throw std::bad_alloc();
    pointer p = base::allocate(n);
    if (book != nullptr) {
      ++book->allocations;
      book->live += n * sizeof(U);
      book->peak = std::max(book->peak, book->live);
    }
    return p;
  }
  void deallocate(pointer p, size_type n) noexcept {
    if (book != nullptr) {
      ++book->deallocations;
      book->live -= n * sizeof(U);
    }
    base::deallocate(p, n);
  }
  friend bool operator==(counting_allocator const& a, counting_allocator const& b) {
    return a.book == b.book;
  }
  friend bool operator!=(counting_allocator const& a, counting_allocator const& b) {
    return !(a == b);
  }

  ledger* book = nullptr;
};

}  // namespace bulkmap_test
