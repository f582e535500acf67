#!/bin/sh
# Prints the check cases counted in every test log of a build tree as one
# closing line, "checks: N passed, M failed".
dir=${1:-.}
find "$dir/tests" -name '*.log' -exec cat {} + 2>/dev/null |
    awk '/Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+/ {
            for (i = 1; i <= NF; i++) {
                if ($i == "Checks:") c += $(i + 1)
                if ($i == "Failures:") f += $(i + 1)
                if ($i == "Errors:") e += $(i + 1)
            }
         }
         END { printf "checks: %d passed, %d failed\n", c - f - e, f + e }'
