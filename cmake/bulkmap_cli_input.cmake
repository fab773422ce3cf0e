# bulkmap_cli_input: what the CLI's input readers (host/text_input.cpp, fastx_reader.cpp,
# int_reader.cpp, csv_reader.cpp, words.hpp) need: host/ on the include path, zlib, klib's kseq.h
# and libcsv. An INTERFACE target: the CLI (host/), the readers' tests (tests/cli) and the fuzz
# targets (tests/fuzz) compile the reader sources they use themselves.
#
# Included from each directory that uses it: the find_package calls run in every such directory
# (so ZLIB::ZLIB is visible there; the results are cached), the target is defined once.
find_package(ZLIB REQUIRED)
# Only klib's header-only kseq.h (kstream) is taken from htslib's headers; htslib is not linked.
find_path(BULKMAP_KSEQ_INCLUDE_DIR htslib/kseq.h REQUIRED)
# libcsv (Debian's libcsv-dev) parses the CSV of `bulkmap group` (csv_reader.cpp).
find_path(BULKMAP_CSV_INCLUDE_DIR csv.h REQUIRED)
find_library(BULKMAP_CSV_LIBRARY csv REQUIRED)

if(NOT TARGET bulkmap_cli_input)
  add_library(bulkmap_cli_input INTERFACE)
  target_include_directories(bulkmap_cli_input INTERFACE "${PROJECT_SOURCE_DIR}/host")
  target_include_directories(bulkmap_cli_input SYSTEM INTERFACE
    "${BULKMAP_KSEQ_INCLUDE_DIR}" "${BULKMAP_CSV_INCLUDE_DIR}")
  target_link_libraries(bulkmap_cli_input INTERFACE ZLIB::ZLIB "${BULKMAP_CSV_LIBRARY}")
endif()
