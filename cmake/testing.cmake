# Test wiring shared by every tests/ folder.
#
# Skips: a test that cannot run here prints "SKIP: <reason>" on stderr and exits 77;
# every test carries SKIP_RETURN_CODE 77 (the ctest test_skip77 checks that none lacks
# it), so ctest reports it as skipped, never passed. scripts/test.sh lists every skip
# with its reason and, with CI=true, fails on any skip not in tests/skips-allowed.txt.

# Outside data, beside the repository by default (../shared), or where -D puts it.
# The environment variable WEIR_SHARED gives the first configure its default.
if(DEFINED ENV{WEIR_SHARED})
  set(weir_shared_default "$ENV{WEIR_SHARED}")
else()
  set(weir_shared_default "${PROJECT_SOURCE_DIR}/../shared")
endif()
set(WEIR_SHARED_DIR "${weir_shared_default}" CACHE PATH
    "the project's shared folder (benchmark data, shared Parquet checkers)")
set(WEIR_JSONSCHEMA_SUITE "${WEIR_SHARED_DIR}/jsonschema-test-suite" CACHE PATH
    "the official JSON Schema Test Suite (scripts/test-data.sh fetches it at the pinned commit)")

# weir_unit_test(NAME SOURCES... LIBS ...): one executable = one ctest, labelled "unit".
function(weir_unit_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_include_directories(${name} PRIVATE ${PROJECT_SOURCE_DIR}/tests/unit)
  target_link_libraries(${name} PRIVATE ${T_LIBS} weir_warnings)
  add_test(NAME ${name} COMMAND ${name})
  set_tests_properties(${name} PROPERTIES LABELS "unit;${T_LABELS}" TIMEOUT 300
                       SKIP_RETURN_CODE 77)
endfunction()

# weir_suite_test(TEST): TEST reads the JSON Schema Test Suite (WEIR_JSONSCHEMA_SUITE).
function(weir_suite_test name)
  set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT
               "WEIR_JSONSCHEMA_SUITE=${WEIR_JSONSCHEMA_SUITE}")
  set_property(TEST ${name} PROPERTY SKIP_RETURN_CODE 77)
endfunction()
