/**
 * @file nocase_codes.cpp
 * @brief Worked example of a custom `Hash` and `KeyEqual`: sum trade volumes by ticker code,
 * ignoring ASCII case, so "AAPL", "aapl" and "Aapl" are one key.
 *
 * Rust counterpart: a key type whose `Hash` and `Eq` fold case, and
 *   for (code, v) in trades { *volume.entry(code).or_insert(0) += v; }
 *
 * As in Rust, the map keeps the spelling a code entered it with: its first occurrence. The sums
 * and the kept spellings are checked against a host loop over a std::map keyed by the
 * lower-cased code.
 *
 * Usage: nocase_codes [TRADES]   (default 1,000,000). Exit code 0 when the results agree, 1
 * otherwise. The same source builds for the cuda and omp backends.
 */
#include <thrust/device_vector.h>

#include <bulkmap/bulkmap.hpp>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

/// Up to 8 ASCII characters, zero-padded: a trivially copyable key without padding bits.
struct code {
  char text[8];
};

/// The code's 8 bytes as one number, with 'A'..'Z' lowered: equal for codes that differ in case.
BULKMAP_HOST_DEVICE inline std::uint64_t folded(code const& c) {
  std::uint64_t out = 0;
  for (int i = 0; i < 8; ++i) {
    auto b = static_cast<unsigned char>(c.text[i]);
    if (b >= 'A' && b <= 'Z') b = static_cast<unsigned char>(b + ('a' - 'A'));
    out |= std::uint64_t{b} << (8 * i);
  }
  return out;
}

/// Equal codes must hash equally: hash the folded bytes.
struct nocase_hash {
  BULKMAP_HOST_DEVICE std::uint64_t operator()(code const& c) const {
    return bulkmap::fmix64(folded(c));
  }
};

struct nocase_equal {
  BULKMAP_HOST_DEVICE bool operator()(code const& a, code const& b) const {
    return folded(a) == folded(b);
  }
};

code make_code(std::string const& s) {
  code c{};
  for (std::size_t i = 0; i < s.size() && i < 8; ++i) c.text[i] = s[i];
  return c;
}

std::string spelling(code const& c) { return std::string(c.text, strnlen(c.text, 8)); }

}  // namespace

int main(int argc, char** argv) {
  std::size_t const trades = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 1000000;

  // Trades of 2,000 codes, each written in random case.
  std::mt19937_64 rng(42);
  std::vector<std::string> names;
  for (int i = 0; i < 2000; ++i) {
    std::string name;
    for (int j = 0; j < 1 + i % 6; ++j) name += static_cast<char>('A' + rng() % 26);
    names.push_back(name);
  }
  std::vector<code> codes(trades);
  std::vector<std::uint64_t> volumes(trades);
  for (std::size_t i = 0; i < trades; ++i) {
    std::string name = names[rng() % names.size()];
    for (char& ch : name) {
      if (rng() % 2) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    }
    codes[i] = make_code(name);
    volumes[i] = 1 + rng() % 1000;
  }

  // Rust: *volume.entry(code).or_insert(0) += v, for the whole batch.
  bulkmap::device_map<code, std::uint64_t, nocase_hash, nocase_equal> volume;
  volume.insert_or_accumulate(codes, volumes, thrust::plus<std::uint64_t>{});

  // The same loop on the host: folded code -> (first spelling, sum).
  std::map<std::uint64_t, std::pair<std::string, std::uint64_t>> expected;
  for (std::size_t i = 0; i < trades; ++i) {
    auto [it, fresh] = expected.emplace(folded(codes[i]), std::pair{spelling(codes[i]), 0});
    it->second.second += volumes[i];
  }

  bool ok = volume.size() == expected.size();
  for (auto&& [c, v] : volume.to_host()) {
    auto const it = expected.find(folded(c));
    ok = ok && it != expected.end() && it->second.first == spelling(c) && it->second.second == v;
  }
  std::printf("nocase_codes: %zu trades, %zu codes, backend %s: %s\n", trades, volume.size(),
              bulkmap::backend_name, ok ? "volumes and spellings agree" : "MISMATCH");
  return ok ? 0 : 1;
}
