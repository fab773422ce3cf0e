/**
 * @file pairs.hpp
 * @brief `bulkmap::pairs`: keys and values side by side in device vectors.
 */
#pragma once

#include <thrust/device_vector.h>

#include <bulkmap/config.hpp>

BULKMAP_NAMESPACE_BEGIN

/**
 * @brief Key/value pairs as two device vectors of equal length: `keys[i]` goes with `values[i]`.
 * Rust counterpart: `Vec<(K, V)>`, as collected from `HashMap::drain`. Structure of arrays, so
 * each column feeds Thrust algorithms directly.
 */
template <class Key, class T>
struct pairs {
  thrust::device_vector<Key> keys;
  thrust::device_vector<T> values;
};

BULKMAP_NAMESPACE_END
