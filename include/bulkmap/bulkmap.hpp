/**
 * @file bulkmap.hpp
 * @brief Everything a bulkmap user needs: `device_map`, `host_mirror`, `pairs`, hashes, errors,
 * `stream_ref`, and for byte-string keys `string_map`, `string_mirror`, `string_batch`.
 */
#pragma once

#include <bulkmap/bytes.hpp>
#include <bulkmap/config.hpp>
#include <bulkmap/device_map.hpp>
#include <bulkmap/device_map_ref.hpp>
#include <bulkmap/error.hpp>
#include <bulkmap/group_by.hpp>
#include <bulkmap/hash.hpp>
#include <bulkmap/host_mirror.hpp>
#include <bulkmap/pairs.hpp>
#include <bulkmap/stream.hpp>
#include <bulkmap/string_map.hpp>
#include <bulkmap/string_mirror.hpp>
