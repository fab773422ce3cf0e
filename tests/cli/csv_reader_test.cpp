/**
 * @file csv_reader_test.cpp
 * @brief Tests of `bulkmap::cli::csv_reader`: random tables of random byte strings (delimiters,
 * quotes, LF, CRLF, spaces, NUL, NULL fields) are written here per RFC 4180 by a writer of the
 * test's own, read back in chunks of many sizes (tiny ones split records across reads), and
 * compared field by field, with the line each record starts on; then every error, each with the
 * line it must name, gzip input, stdin, and `skip_bad_rows`.
 *
 * BULKMAP_TEST_SEED=n in the environment changes the random tables.
 */
#include "csv_reader.hpp"

#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "cli_error.hpp"
#include "scratch_test.hpp"

namespace {

namespace fs = std::filesystem;
using bulkmap::cli::csv_chunk;
using bulkmap::cli::csv_options;
using bulkmap::cli::csv_reader;
using bulkmap::cli::input_error;
using bulkmap::cli::usage_error;

using field = std::optional<std::string>;  // nullopt: NULL
using record = std::vector<field>;

/// A table as the test expects the reader to return it.
struct table {
  std::vector<std::string> names;
  std::vector<record> rows;
  std::vector<std::uint64_t> lines;  ///< line each row starts on
};

/// What the reader returned, chunk by chunk, flattened.
struct read_back {
  std::vector<std::string> names;
  std::vector<record> rows;
  std::vector<std::uint64_t> lines;
  std::size_t chunks = 0;
  std::uint64_t skipped = 0;
};

std::size_t chunk_memory(csv_chunk const& chunk, std::size_t rows) {
  std::size_t bytes = 0;
  for (auto const& column : chunk.columns) bytes += column.offsets[rows];
  return bytes + rows * (chunk.columns.size() * 9 + 8);
}

read_back read_all(std::string const& path, csv_options const& options, std::size_t chunk_bytes) {
  csv_reader reader(path, options, chunk_bytes);
  read_back got;
  got.names = reader.column_names();
  csv_chunk chunk;
  while (reader.next_chunk(chunk)) {
    ++got.chunks;
    EXPECT_GT(chunk.rows(), 0u);
    EXPECT_EQ(chunk.columns.size(), got.names.size());
    // The chunk stops at the first line end past the bound: without its last record (a line holds
    // at most one record end here), it was under the bound.
    EXPECT_LT(chunk_memory(chunk, chunk.rows() - 1), chunk_bytes);
    for (std::size_t i = 0; i < chunk.rows(); ++i) {
      record r;
      for (auto const& column : chunk.columns) {
        EXPECT_EQ(column.size(), chunk.rows());
        EXPECT_EQ(column.offsets.size(), chunk.rows() + 1);
        if (column.is_null(i)) {
          EXPECT_TRUE(column[i].empty());
          r.emplace_back(std::nullopt);
        } else {
          r.emplace_back(std::string(column[i]));
        }
      }
      got.rows.push_back(std::move(r));
      got.lines.push_back(chunk.lines[i]);
    }
  }
  EXPECT_EQ(chunk.rows(), 0u);
  EXPECT_FALSE(reader.next_chunk(chunk));  // stays at the end
  got.skipped = reader.skipped_rows();
  return got;
}

/// An RFC 4180 writer: quotes a field when it must (delimiter, quote, CR, LF), and sometimes when
/// it need not; doubles quotes; NULL as an empty field, unquoted or "" at random.
class csv_writer {
 public:
  csv_writer(char delimiter, std::mt19937_64& rng) : delimiter_(delimiter), rng_(rng) {}

  void write_field(field const& f, bool alone) {
    bool const must =
        f && f->find_first_of(std::string{delimiter_, '"', '\r', '\n'}) != std::string::npos;
    // A NULL alone on its line would be a blank line: it is written "".
    bool const quoted = must || (!f && alone) || coin(4);
    if (!quoted) {
      put(f ? *f : std::string());
      return;
    }
    std::string text = "\"";
    for (char c : f ? *f : std::string()) {
      if (c == '"') text += '"';
      text += c;
    }
    put(text + "\"");
  }

  /// Writes `r`; returns the line it starts on.
  std::uint64_t write_record(record const& r, bool line_end = true) {
    if (coin(8)) put(coin(2) ? "\r\n" : "\n");  // a blank line, skipped by the reader
    std::uint64_t const start = line_;
    for (std::size_t c = 0; c < r.size(); ++c) {
      if (c > 0) put(std::string(1, delimiter_));
      write_field(r[c], r.size() == 1);
    }
    if (line_end) put(coin(2) ? "\r\n" : "\n");
    return start;
  }

  std::string const& text() const { return text_; }
  std::string& text() { return text_; }

 private:
  bool coin(unsigned n) { return rng_() % n == 0; }
  void put(std::string const& s) {
    text_ += s;
    line_ += static_cast<std::uint64_t>(std::count(s.begin(), s.end(), '\n'));
  }

  char delimiter_;
  std::mt19937_64& rng_;
  std::string text_;
  std::uint64_t line_ = 1;
};

class CsvReader : public bulkmap_test::scratch_test {
 protected:
  std::string write(std::string const& name, std::string const& content) {
    bulkmap_test::write_file(path(name), content);
    return path(name).string();
  }

  /// A random non-empty field: bytes drawn mostly from the ones CSV treats specially.
  std::string random_bytes(char delimiter) {
    static char const special[] = {'"', '\r', '\n', ' ', '\t', '\0', 'a', 'b', '1'};
    std::size_t const length = 1 + rng_() % (rng_() % 4 == 0 ? 40 : 6);
    std::string s;
    for (std::size_t i = 0; i < length; ++i) {
      switch (rng_() % 4) {
        case 0:
          s += delimiter;
          break;
        case 1:
          s += special[rng_() % sizeof special];
          break;
        default:
          s += static_cast<char>(rng_() % 256);
          break;
      }
    }
    return s;
  }

  /// A random table, written with `writer`; NULLs in about one field in five.
  table random_table(csv_writer& writer, char delimiter, std::size_t columns, std::size_t rows,
                     bool header) {
    table t;
    record names;
    for (std::size_t c = 0; c < columns; ++c) {
      t.names.push_back(header ? "col" + std::to_string(c) + random_bytes(delimiter)
                               : "column" + std::to_string(c + 1));
      names.emplace_back(t.names.back());
    }
    if (header) writer.write_record(names);
    for (std::size_t i = 0; i < rows; ++i) {
      record r;
      for (std::size_t c = 0; c < columns; ++c) {
        r.emplace_back(rng_() % 5 == 0 ? field() : field(random_bytes(delimiter)));
      }
      t.lines.push_back(writer.write_record(r, i + 1 < rows || rng_() % 2 == 0));
      t.rows.push_back(std::move(r));
    }
    return t;
  }

  void expect_equal(read_back const& got, table const& want) {
    EXPECT_EQ(got.names, want.names);
    ASSERT_EQ(got.rows.size(), want.rows.size());
    for (std::size_t i = 0; i < want.rows.size(); ++i) {
      ASSERT_EQ(got.rows[i], want.rows[i]) << "row " << i << ", seed " << seed_;
      ASSERT_EQ(got.lines[i], want.lines[i]) << "row " << i << ", seed " << seed_;
    }
  }

  /// The message of the input_error reading `content` throws.
  std::string error_of(std::string const& content, csv_options const& options = {},
                       std::size_t chunk_bytes = csv_reader::default_chunk_bytes) {
    auto const path = write("bad.csv", content);
    try {
      read_all(path, options, chunk_bytes);
    } catch (input_error const& e) {
      return e.what();
    }
    ADD_FAILURE() << "no error for " << testing::PrintToString(content);
    return {};
  }
};

TEST_F(CsvReader, RandomTablesReadBackFieldByFieldAtEveryChunkSize) {
  for (int round = 0; round < 24; ++round) {
    char const delimiter = ",;\t|"[round % 4];
    bool const header = round % 3 != 2;
    std::size_t const columns = 1 + rng_() % 6;
    std::size_t const rows = round == 0 ? 0 : rng_() % 300;
    csv_writer writer(delimiter, rng_);
    table const want = random_table(writer, delimiter, columns, rows, header);
    auto const path = write("t.csv", writer.text());
    csv_options options;
    options.delimiter = delimiter;
    options.has_header = header;
    for (std::size_t chunk_bytes :
         {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{7}, std::size_t{100},
          std::size_t{4096}, csv_reader::default_chunk_bytes}) {
      SCOPED_TRACE("round " + std::to_string(round) + ", chunk_bytes " +
                   std::to_string(chunk_bytes) + ", seed " + std::to_string(seed_));
      read_back const got = read_all(path, options, chunk_bytes);
      if (!header && rows == 0) {
        EXPECT_TRUE(got.names.empty());  // no record: no columns
        EXPECT_TRUE(got.rows.empty());
        continue;
      }
      expect_equal(got, want);
      if (chunk_bytes == 1) {
        EXPECT_EQ(got.chunks, rows);
      }
      if (chunk_bytes == csv_reader::default_chunk_bytes) {
        EXPECT_EQ(got.chunks, rows > 0 ? 1u : 0u);
      }
    }
  }
}

TEST_F(CsvReader, SpacesAreKeptAndEmptyFieldsAreNull) {
  std::string const text =
      "name,\"quoted, name\",\"he said \"\"hi\"\"\"\r\n"
      " spaced ,\" x \",\"\"\r\n"
      ",,\n"
      "\"two\nlines\",\"crlf\r\ninside\",\"a,b\"\n"
      "\n"
      "last,no,newline";
  read_back const got = read_all(write("h.csv", text), {}, csv_reader::default_chunk_bytes);
  EXPECT_EQ(got.names, (std::vector<std::string>{"name", "quoted, name", "he said \"hi\""}));
  std::vector<record> const want = {{" spaced ", " x ", std::nullopt},
                                    {std::nullopt, std::nullopt, std::nullopt},
                                    {"two\nlines", "crlf\r\ninside", "a,b"},
                                    {"last", "no", "newline"}};
  EXPECT_EQ(got.rows, want);
  EXPECT_EQ(got.lines, (std::vector<std::uint64_t>{2, 3, 4, 8}));
  EXPECT_EQ(csv_reader(write("l.csv", "\n\r\n\"a\nb\"\n1\n")).first_line(), 3u);
  EXPECT_EQ(csv_reader(write("e.csv", "\n")).first_line(), 0u);
}

TEST_F(CsvReader, NoHeaderNamesTheColumns) {
  csv_options options;
  options.has_header = false;
  options.delimiter = ';';
  read_back const got = read_all(write("n.csv", "1;2;3\n4;;6\n"), options, 1);
  EXPECT_EQ(got.names, (std::vector<std::string>{"column1", "column2", "column3"}));
  EXPECT_EQ(got.rows, (std::vector<record>{{"1", "2", "3"}, {"4", std::nullopt, "6"}}));
  EXPECT_EQ(got.lines, (std::vector<std::uint64_t>{1, 2}));
}

TEST_F(CsvReader, EmptyInputAndHeaderOnly) {
  read_back const empty = read_all(write("e.csv", ""), {}, 10);
  EXPECT_TRUE(empty.names.empty());
  EXPECT_TRUE(empty.rows.empty());
  read_back const blank = read_all(write("b.csv", "\n\r\n\n"), {}, 10);
  EXPECT_TRUE(blank.names.empty());
  read_back const header = read_all(write("h.csv", "a,b\n"), {}, 10);
  EXPECT_EQ(header.names, (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(header.rows.empty());
}

TEST_F(CsvReader, ByteOrderMarkIsDropped) {
  for (std::size_t chunk_bytes : {std::size_t{1}, std::size_t{1000}}) {
    read_back const got = read_all(write("bom.csv", "\xEF\xBB\xBFk,v\nx,1\n"), {}, chunk_bytes);
    EXPECT_EQ(got.names, (std::vector<std::string>{"k", "v"}));
    EXPECT_EQ(got.rows, (std::vector<record>{{"x", "1"}}));
  }
}

TEST_F(CsvReader, GzipInput) {
  csv_writer writer(',', rng_);
  table const want = random_table(writer, ',', 4, 500, true);
  auto const path = this->path("t.csv.gz").string();
  bulkmap_test::write_gzip(path, writer.text());
  for (std::size_t chunk_bytes : {std::size_t{5}, std::size_t{1} << 20}) {
    expect_equal(read_all(path, {}, chunk_bytes), want);
  }
}

TEST_F(CsvReader, StdinInput) {
  csv_writer writer('|', rng_);
  table const want = random_table(writer, '|', 3, 200, true);
  auto const path = write("in.csv", writer.text());
  int const saved = ::dup(STDIN_FILENO);
  ASSERT_GE(saved, 0);
  ASSERT_NE(std::freopen(path.c_str(), "rb", stdin), nullptr);
  csv_options options;
  options.delimiter = '|';
  read_back got;
  std::string name;
  {
    csv_reader reader("-", options, 64);
    name = reader.name();
  }
  ASSERT_EQ(::lseek(STDIN_FILENO, 0, SEEK_SET), 0);
  got = read_all("-", options, 64);
  ::dup2(saved, STDIN_FILENO);
  ::close(saved);
  EXPECT_EQ(name, "<stdin>");
  expect_equal(got, want);
}

TEST_F(CsvReader, WrongFieldCountNamesTheRecordsFirstLine) {
  EXPECT_EQ(error_of("a,b\n1,2\n3\n"),
            (dir_ / "bad.csv").string() + ":3: expected 2 fields, found 1");
  // The bad record starts on line 4 and spans lines 4 to 6.
  EXPECT_EQ(error_of("a,b\n1,2\n\n\"x\ny\",2,\"z\nw\"\n"),
            (dir_ / "bad.csv").string() + ":4: expected 2 fields, found 3");
  // Found while chunks of one byte are read: the same line.
  EXPECT_EQ(error_of("a,b\r\n1,\"2\r\n\"\r\n3,4,5\r\n", {}, 1),
            (dir_ / "bad.csv").string() + ":4: expected 2 fields, found 3");
  // The last record, without a line end.
  EXPECT_EQ(error_of("a,b\n1,2\n3,4,5"),
            (dir_ / "bad.csv").string() + ":3: expected 2 fields, found 3");
}

TEST_F(CsvReader, UnterminatedQuoteNamesTheLineItOpensOn) {
  std::string const file = (dir_ / "bad.csv").string();
  EXPECT_EQ(error_of("a,b\n1,\"abc\ndef\n"),
            file +
                ":2: unterminated quote: the quoted field that opens on this line runs to "
                "the end of the input");
  // The record starts on line 3; its second field opens on line 4.
  for (std::size_t chunk_bytes : {std::size_t{1}, std::size_t{1} << 20}) {
    std::string const message = error_of("a,b\n1,2\n\"p\nq\",\"r\ns\n\n", {}, chunk_bytes);
    EXPECT_EQ(message.rfind(file + ":4: unterminated quote", 0), 0u) << message;
  }
  std::string const last = error_of("a,b\n1,2\n3,\"4\"\"");
  EXPECT_EQ(last.rfind(file + ":3: unterminated quote", 0), 0u) << last;
}

TEST_F(CsvReader, MalformedQuotingNamesItsLine) {
  std::string const file = (dir_ / "bad.csv").string();
  std::string m = error_of("a,b\n1,x\"y\n");
  EXPECT_EQ(m.rfind(file + ":2: malformed quoting: a quote inside an unquoted field", 0), 0u) << m;
  m = error_of("a,b\n1,\"x\"y\n");
  EXPECT_EQ(m.rfind(file + ":2: malformed quoting: a closing quote", 0), 0u) << m;
  m = error_of("a,b\n1,\"x\ny\" \n", {}, 2);  // a space after the closing quote, on line 3
  EXPECT_EQ(m.rfind(file + ":3: malformed quoting: a closing quote", 0), 0u) << m;
  m = error_of("a,b\n1, \"x\"\n");  // a space before the opening quote: an unquoted field
  EXPECT_EQ(m.rfind(file + ":2: malformed quoting: a quote inside an unquoted field", 0), 0u) << m;
}

TEST_F(CsvReader, RecordsBeforeAnErrorComeFirst) {
  auto const path = write("late.csv", "k\n1\n2\n3\n\"4\n");
  csv_reader reader(path, {}, 1);
  csv_chunk chunk;
  std::vector<std::string> seen;
  try {
    while (reader.next_chunk(chunk)) seen.emplace_back(chunk.columns[0][0]);
    ADD_FAILURE() << "no error";
  } catch (input_error const& e) {
    EXPECT_EQ(std::string(e.what()).rfind(path + ":5: unterminated quote", 0), 0u) << e.what();
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"1", "2", "3"}));
}

TEST_F(CsvReader, SkipBadRowsCountsThem) {
  csv_writer writer(',', rng_);
  table want;
  want.names = {"a", "b", "c"};
  writer.write_record({field("a"), field("b"), field("c")});
  std::uint64_t bad = 0;
  for (int i = 0; i < 400; ++i) {
    std::size_t const fields = rng_() % 4 == 0 ? rng_() % 6 + 1 : 3;
    record r;
    for (std::size_t c = 0; c < fields; ++c) {
      r.emplace_back(rng_() % 5 == 0 ? field() : field(random_bytes(',')));
    }
    std::uint64_t const line = writer.write_record(r);
    if (fields == 3) {
      want.rows.push_back(std::move(r));
      want.lines.push_back(line);
    } else {
      ++bad;
    }
  }
  ASSERT_GT(bad, 0u);
  auto const path = write("skip.csv", writer.text());
  csv_options options;
  options.skip_bad_rows = true;
  for (std::size_t chunk_bytes : {std::size_t{1}, std::size_t{300}, std::size_t{1} << 20}) {
    read_back const got = read_all(path, options, chunk_bytes);
    expect_equal(got, want);
    EXPECT_EQ(got.skipped, bad);
  }
  // Without the option, the first bad record is an error.
  EXPECT_THROW(read_all(path, {}, 100), input_error);
}

TEST_F(CsvReader, BadArguments) {
  auto const path = write("ok.csv", "a\n1\n");
  for (char d : {'"', '\n', '\r'}) {
    csv_options options;
    options.delimiter = d;
    EXPECT_THROW(csv_reader(path, options), usage_error);
  }
  EXPECT_THROW(csv_reader(path, {}, 0), usage_error);
  try {
    csv_reader reader((dir_ / "missing.csv").string());
    ADD_FAILURE() << "no error";
  } catch (input_error const& e) {
    EXPECT_NE(std::string(e.what()).find("missing.csv: cannot open"), std::string::npos);
  }
}

}  // namespace
