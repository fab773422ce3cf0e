// Counts a few keys through bulkmap::bulkmap and checks the counts; exit code 0 on success.
#include <bulkmap/bulkmap.hpp>
#include <cstdint>
#include <cstdio>
#include <vector>

int main() {
  bulkmap::device_map<std::int64_t, std::uint32_t> counts;
  counts.count(std::vector<std::int64_t>{7, -1, 7, 7, -2, 0});
  auto const mirror = counts.to_host();
  auto const* seven = mirror.get(7);
  bool const ok = mirror.size() == 4 && seven != nullptr && *seven == 3 && *mirror.get(-1) == 1;
  std::printf("consumer (%s backend): %s\n", bulkmap::backend_name, ok ? "ok" : "WRONG COUNTS");
  return ok ? 0 : 1;
}
