#!/bin/sh
# Adds up every test log of a build tree: check cases ("Checks: N,
# Failures: F, Errors: E") and scenario lines ("name: N passed, M failed"),
# and prints one closing line, "tests: N passed, M failed".
dir=${1:-.}
find "$dir/tests" -name '*.log' -exec cat {} + 2>/dev/null |
    awk '/Checks: [0-9]+, Failures: [0-9]+, Errors: [0-9]+/ {
            for (i = 1; i <= NF; i++) {
                if ($i == "Checks:") c += $(i + 1)
                if ($i == "Failures:") f += $(i + 1)
                if ($i == "Errors:") f += $(i + 1)
            }
         }
         /^[a-z][a-z0-9-]*: [0-9]+ passed, [0-9]+ failed$/ {
            c += $2 + $4; f += $4
         }
         END { printf "tests: %d passed, %d failed\n", c - f, f }'
