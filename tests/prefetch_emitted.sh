#!/usr/bin/env bash
# Checks that the omp passes which prefetch slots (detail::prefetching and the fused count,
# claim_and_combine_fn) still hold prefetch instructions in the machine code GCC made of them.
# GCC may delete a call to a function whose only effect is __builtin_prefetch (table.hpp:
# prefetch_for_write says why), and nothing else notices: results stay right, only slower.
#
#   prefetch_emitted.sh OBJDUMP BINARY...
#
# A pass is an OpenMP loop body (`[clone ._omp_fn.N]`); it passes when it, or a function it
# calls, holds a prefetch instruction. Fails when a binary has no pass at all, or when a pass
# holds no prefetch; it names those.
set -euo pipefail
objdump=$1
shift
status=0
for binary in "$@"; do
  if ! report=$("$objdump" -d --no-show-raw-insn -C "$binary" | awk '
      /^[0-9a-f]+ <.*>:$/ {
        address = $1; sub(/^0+/, "", address)
        prefetches[address] = 0; callees[address] = ""
        if ($0 ~ /_omp_fn\./ && match($0, /detail::(prefetching|claim_and_combine_fn)</)) {
          passes[address] = substr($0, RSTART, 240)
        }
        next
      }
      address == "" { next }
      /\tprefetch/ { ++prefetches[address] }
      /\tcall +[0-9a-f]+ </ {
        for (i = 1; i <= NF; ++i) if ($i == "call") { callees[address] = callees[address] " " $(i + 1); break }
      }
      END {
        n = 0; missing = 0
        for (a in passes) {
          ++n; found = prefetches[a] > 0
          split(callees[a], called, " ")
          for (c in called) if (prefetches[called[c]] > 0) found = 1
          if (!found) { ++missing; print "  no prefetch in: " passes[a] }
        }
        if (n == 0) { print "  no prefetching pass found"; exit 1 }
        printf "  %d prefetching passes, %d without a prefetch instruction\n", n, missing
        exit (missing > 0)
      }'); then
    status=1
  fi
  echo "$(basename "$binary"):"
  echo "$report"
done
exit $status
