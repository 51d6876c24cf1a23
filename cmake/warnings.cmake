# Warnings of STYLE.md for every weir target; -Werror with WEIR_WERROR (CI turns it on).
add_library(weir_warnings INTERFACE)
target_compile_options(weir_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes
  -Wformat=2 -Wvla -Wno-format-nonliteral
  $<$<BOOL:${WEIR_WERROR}>:-Werror>)
target_compile_definitions(weir_warnings INTERFACE _GNU_SOURCE)
