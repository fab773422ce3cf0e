/**
 * @file group_by.inl
 * @brief Definitions of `bulkmap::group_by`, included at the bottom of group_by.hpp.
 */
#pragma once

#include <thrust/copy.h>
#include <thrust/execution_policy.h>
#include <thrust/gather.h>
#include <thrust/iterator/counting_iterator.h>
#include <thrust/scan.h>
#include <thrust/sort.h>

#include <algorithm>
#include <bulkmap/detail/backend.hpp>
#include <bulkmap/device_map.hpp>
#include <bulkmap/device_map_ref.hpp>
#include <bulkmap/kernels/compact.hpp>
#include <bulkmap/kernels/group.hpp>
#include <stdexcept>
#include <vector>

#if defined(BULKMAP_BACKEND_CUDA)
#include <cub/device/device_segmented_sort.cuh>
#else
#include <omp.h>
#endif

BULKMAP_NAMESPACE_BEGIN
namespace detail {

/**
 * Sorts each group's row numbers, `rows[offsets[g]]` to `rows[offsets[g + 1] - 1]`, ascending.
 * cuda: CUB's segmented sort (into a second buffer). omp: each thread sorts whole groups in turn
 * (skipping those already in order); a group of more than `large_group` rows is sorted by
 * Thrust's parallel sort instead, on all threads.
 */
inline void sort_within_groups(thrust::device_vector<std::uint64_t>& rows,
                               thrust::device_vector<std::uint64_t> const& offsets) {
  std::int64_t const n = static_cast<std::int64_t>(rows.size());
  std::int64_t const g = static_cast<std::int64_t>(offsets.size()) - 1;
  if (n == 0) return;
  std::uint64_t const* const o = thrust::raw_pointer_cast(offsets.data());
#if defined(BULKMAP_BACKEND_CUDA)
  auto const check = [](cudaError_t status) {
    if (status != cudaSuccess) throw thrust::system_error(status, thrust::cuda_category());
  };
  thrust::device_vector<std::uint64_t> sorted(rows.size());
  std::uint64_t const* const in = thrust::raw_pointer_cast(rows.data());
  std::uint64_t* const out = thrust::raw_pointer_cast(sorted.data());
  std::size_t bytes = 0;
  check(cub::DeviceSegmentedSort::SortKeys(nullptr, bytes, in, out, n, g, o, o + 1));
  thrust::device_vector<unsigned char> scratch(bytes);
  check(cub::DeviceSegmentedSort::SortKeys(thrust::raw_pointer_cast(scratch.data()), bytes, in, out,
                                           n, g, o, o + 1));
  check(cudaDeviceSynchronize());
  rows.swap(sorted);
#else
  constexpr std::uint64_t large_group = std::uint64_t{1} << 16;
  std::uint64_t* const r = thrust::raw_pointer_cast(rows.data());
#pragma omp parallel for schedule(dynamic, 64)
  for (std::int64_t i = 0; i < g; ++i) {
    std::uint64_t* const first = r + o[i];
    std::uint64_t* const last = r + o[i + 1];
    if (o[i + 1] - o[i] <= large_group && !std::is_sorted(first, last)) std::sort(first, last);
  }
  for (std::int64_t i = 0; i < g; ++i) {
    if (o[i + 1] - o[i] > large_group && !std::is_sorted(r + o[i], r + o[i + 1])) {
      thrust::sort(thrust::device, r + o[i], r + o[i + 1]);
    }
  }
#endif
}

#if defined(BULKMAP_BACKEND_OMP)
/**
 * The omp backend's stable placement, when there are at least as many rows per group as threads:
 * a parallel counting sort by group. Each thread takes a contiguous run of rows, looks up each
 * row's group (kept, 8 bytes a row) and counts its rows per group; a scan over the groups, thread
 * by thread within each, gives each thread its first place in each group; each thread then writes
 * its rows' values there, in order. Input order thus holds within every group with no sort, and
 * no two threads touch one counter. Returns false, having done nothing, when the counters (one per
 * thread and group) would outnumber the rows.
 */
template <class Ref, class KeyIt, class ValueIt, class Key, class V>
bool place_rows_stably(Ref map, KeyIt keys, std::uint64_t n, ValueIt values, groups<Key, V>& out) {
  std::uint64_t const g = out.size();
  auto const threads = static_cast<std::uint64_t>(omp_get_max_threads());
  if (n == 0 || threads * g > n) return false;
  std::vector<std::uint64_t> group_of(n);
  std::vector<std::uint64_t> places(threads * g, 0);  // thread t's counts, then places: [t * g + i]
  std::uint64_t const* const offsets = thrust::raw_pointer_cast(out.offsets.data());
  V* const to = thrust::raw_pointer_cast(out.values.data());
#pragma omp parallel
  {
    auto const t = static_cast<std::uint64_t>(omp_get_thread_num());
    auto const nt = static_cast<std::uint64_t>(omp_get_num_threads());
    std::uint64_t const first = n * t / nt;
    std::uint64_t const last = n * (t + 1) / nt;
    std::uint64_t* const mine = places.data() + t * g;
    for (std::uint64_t i = first; i < last; ++i) {
      std::uint64_t const group = *map.find(keys[i]);
      group_of[i] = group;
      ++mine[group];
    }
#pragma omp barrier
#pragma omp for
    for (std::int64_t i = 0; i < static_cast<std::int64_t>(g); ++i) {
      std::uint64_t at = offsets[i];
      for (std::uint64_t u = 0; u < nt; ++u) {
        std::uint64_t const c = places[u * g + static_cast<std::uint64_t>(i)];
        places[u * g + static_cast<std::uint64_t>(i)] = at;
        at += c;
      }
    }
    for (std::uint64_t i = first; i < last; ++i) to[mine[group_of[i]]++] = values[i];
  }
  return true;
}
#endif

}  // namespace detail

template <class KeyIt, class ValueIt>
groups<typename std::iterator_traits<KeyIt>::value_type,
       typename std::iterator_traits<ValueIt>::value_type>
group_by(KeyIt keys_first, KeyIt keys_last, ValueIt values_first) {
  using Key = typename std::iterator_traits<KeyIt>::value_type;
  using V = typename std::iterator_traits<ValueIt>::value_type;
  char const* const what = "group_by";
  auto const n = static_cast<std::uint64_t>(keys_last - keys_first);
  groups<Key, V> out;
  // Each key's rows, then its group's number in the same map (drained: capacity kept).
  device_map<Key, std::uint64_t> map;
  map.count(keys_first, keys_last);
  pairs<Key, std::uint64_t> counted = map.drain();
  std::size_t const g = counted.keys.size();
  detail::translate_errors(what, [&] {
    thrust::sort_by_key(thrust::device, counted.keys.begin(), counted.keys.end(),
                        counted.values.begin(), detail::key_order<Key>{});
    out.offsets.resize(g + 1);
    out.offsets[0] = 0;
    thrust::inclusive_scan(thrust::device, counted.values.begin(), counted.values.end(),
                           out.offsets.begin() + 1);
  });
  map.insert(counted.keys.begin(), counted.keys.end(), thrust::counting_iterator<std::uint64_t>(0));
  out.unique_keys = std::move(counted.keys);
  detail::translate_errors(what, [&] {
    out.values.resize(n);
#if defined(BULKMAP_BACKEND_OMP)
    if (detail::place_rows_stably(map.ref(), keys_first, n, values_first, out)) return;
#endif
    thrust::device_vector<std::uint64_t> rows(n);
    {
      thrust::device_vector<std::uint64_t> cursors(out.offsets.begin(), out.offsets.end() - 1);
      detail::launch(
          what, n,
          detail::group_scatter_fn<typename device_map<Key, std::uint64_t>::ref_type, KeyIt>{
              map.ref(), keys_first, thrust::raw_pointer_cast(cursors.data()),
              thrust::raw_pointer_cast(rows.data())});
    }
    detail::sort_within_groups(rows, out.offsets);
    thrust::gather(thrust::device, rows.begin(), rows.end(), values_first, out.values.begin());
  });
  return out;
}

template <class Key, class V>
groups<Key, V> group_by(std::vector<Key> const& keys, std::vector<V> const& values) {
  if (keys.size() != values.size()) {
    throw std::invalid_argument("bulkmap::group_by: " + std::to_string(keys.size()) + " keys but " +
                                std::to_string(values.size()) + " values");
  }
  thrust::device_allocator<char> const alloc;
  detail::host_input<Key, thrust::device_allocator<char>> const k("group_by", keys, alloc);
  detail::host_input<V, thrust::device_allocator<char>> const v("group_by", values, alloc);
  return group_by(k.begin(), k.begin() + static_cast<std::ptrdiff_t>(keys.size()), v.begin());
}

BULKMAP_NAMESPACE_END
