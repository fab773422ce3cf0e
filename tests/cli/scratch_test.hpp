/**
 * @file scratch_test.hpp
 * @brief What the CLI's test programs share: a fixture with a temporary directory per test and a
 * seeded random generator, and writers of plain and gzip files.
 */
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>

namespace bulkmap_test {

namespace fs = std::filesystem;

/// Writes `content` to `path` as is.
inline void write_file(fs::path const& path, std::string const& content) {
  std::ofstream out(path, std::ios::binary);
  out << content;
  ASSERT_TRUE(out.good()) << path;
}

/// Writes `content` to `path` gzip-compressed, with zlib.
inline void write_gzip(fs::path const& path, std::string const& content) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  std::size_t done = 0;
  while (done < content.size()) {
    auto const piece = static_cast<unsigned>(std::min<std::size_t>(content.size() - done, 1 << 20));
    ASSERT_EQ(gzwrite(file, content.data() + done, piece), static_cast<int>(piece));
    done += piece;
  }
  ASSERT_EQ(gzclose(file), Z_OK);
}

/**
 * A fixture with a temporary directory per test (`dir_`; `path(name)` names a file in it),
 * removed afterwards even where a test took its permissions away, and a random generator (`rng_`)
 * seeded with `seed_`, or with n from BULKMAP_TEST_SEED=n in the environment.
 */
class scratch_test : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "bulkmap_test_XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    if (char const* text = std::getenv("BULKMAP_TEST_SEED"))
      seed_ = std::strtoull(text, nullptr, 10);
    rng_.seed(seed_);
  }
  void TearDown() override {
    std::error_code ignored;
    fs::permissions(dir_, fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(dir_, ignored);
  }

  fs::path path(std::string const& name) const { return dir_ / name; }

  fs::path dir_;
  std::uint64_t seed_ = 20240611;
  std::mt19937_64 rng_;
};

}  // namespace bulkmap_test
