/**
 * @file words_fuzz.cpp
 * @brief Fuzzer of the word splitter of `bulkmap count --words` (`bulkmap::cli::count_words`,
 * host/words.hpp, omp backend) over `text_input`, libFuzzer.
 *
 * The input, byte by byte:
 *   - byte 0: the options: bit 0 `--alnum`, bit 1 `--lower`, bits 2-7 (m) the chunk size,
 *     1 + 5m bytes, or 64 KiB when m is 63;
 *   - the rest: the file, written to a scratch file and read through `text_input` (gzip when it
 *     starts with gzip's magic bytes).
 * The text is read a chunk at a time and each chunk cut by `chunk_cut` (words.hpp), the rest held
 * for the next chunk, as `word_counter` (count_engine.inl) does; `count_words` hands each chunk's
 * words to a map-like tally here instead of a `bulkmap::string_map`. The promise: no error at all
 * on a readable file, and for a plain input, the words and their counts equal those of an
 * independent split of the whole text into maximal runs of word bytes, written here byte by byte.
 *
 *   build/fuzz/bin/fuzz_words tests/fuzz/corpus/words     a run on the kept corpus
 */
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "cli_error.hpp"
#include "fuzz_input.hpp"
#include "text_input.hpp"
#include "words.hpp"

namespace {

constexpr char const* target = "words_fuzz";

using tally = std::map<std::string, std::uint64_t, std::less<>>;

/// What `count_words` takes for a map: `count(first, last)` over `byte_view`s.
struct tally_map {
  tally counts;
  template <class Iterator>
  void count(Iterator first, Iterator last) {
    for (; first != last; ++first) {
      bulkmap::byte_view const word = *first;
      ++counts[std::string(word.view())];
    }
  }
};

/// Word bytes, as words.hpp's comment defines them.
bool word_byte(unsigned char c, bool alnum) {
  if (!alnum) return c != ' ' && c != '\t' && c != '\n' && c != '\v' && c != '\f' && c != '\r';
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/// The words of `text` and their counts, by a plain scan.
tally split(std::string text, bool alnum, bool lower) {
  tally counts;
  if (lower) {
    for (char& c : text) {
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
  }
  std::size_t start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    bool const in = i < text.size() && word_byte(static_cast<unsigned char>(text[i]), alnum);
    if (!in) {
      if (i > start) ++counts[text.substr(start, i - start)];
      start = i + 1;
    }
  }
  return counts;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(std::uint8_t const* data, std::size_t size) {
  static bulkmap_fuzz::scratch_file file(target);
  if (size == 0) return 0;
  bool const alnum = data[0] & 1;
  bool const lower = data[0] & 2;
  unsigned const m = data[0] >> 2;
  std::size_t const chunk = m == 63 ? std::size_t{1} << 16 : 1 + 5 * std::size_t{m};
  auto const rule =
      alnum ? bulkmap::cli::word_rule::alnum : bulkmap::cli::word_rule::not_whitespace;
  file.write(data + 1, size - 1);

  tally_map map;
  bulkmap::cli::word_scratch scratch;
  std::uint64_t words = 0;
  try {
    bulkmap::cli::text_input input(file.path());
    std::string text;
    std::size_t held = 0;
    for (bool end = false; !end;) {
      if (text.size() < held + chunk) text.resize(held + chunk);
      std::size_t const got = input.read(text.data() + held, chunk);
      std::size_t const n = held + got;
      end = got < chunk;
      std::size_t const cut = bulkmap::cli::chunk_cut(
          reinterpret_cast<unsigned char const*>(text.data()), n, end, rule);
      if (cut > 0) {
        words += bulkmap::cli::count_words(reinterpret_cast<unsigned char*>(text.data()), cut, rule,
                                           lower, map, scratch);
      }
      held = n - cut;
      if (cut > 0 && held > 0) text.erase(0, cut);
    }
  } catch (bulkmap::cli::input_error const& e) {
    if (bulkmap_fuzz::gzip_magic(data + 1, size - 1)) {
      bulkmap_fuzz::error_line(target, e.what(), file.path());
      return 0;
    }
    bulkmap_fuzz::broken(target, std::string("an error on a plain file: ") + e.what());
  }
  std::uint64_t total = 0;
  for (auto const& [word, count] : map.counts) total += count;
  if (total != words) bulkmap_fuzz::broken(target, "count_words' total differs from its words");
  if (bulkmap_fuzz::gzip_magic(data + 1, size - 1)) return 0;
  tally const want =
      split(std::string(reinterpret_cast<char const*>(data + 1), size - 1), alnum, lower);
  if (map.counts != want) {
    bulkmap_fuzz::broken(target, "the words differ from an independent split (" +
                                     std::to_string(map.counts.size()) + " distinct words, " +
                                     std::to_string(want.size()) + " expected)");
  }
  return 0;
}
