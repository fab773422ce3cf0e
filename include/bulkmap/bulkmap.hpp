/**
 * @file bulkmap.hpp
 * @brief Everything a bulkmap user needs: `device_map`, `host_mirror`, `pairs`, hashes, errors,
 * `stream_ref`.
 */
#pragma once

#include <bulkmap/config.hpp>
#include <bulkmap/device_map.hpp>
#include <bulkmap/device_map_ref.hpp>
#include <bulkmap/error.hpp>
#include <bulkmap/hash.hpp>
#include <bulkmap/host_mirror.hpp>
#include <bulkmap/pairs.hpp>
#include <bulkmap/stream.hpp>
