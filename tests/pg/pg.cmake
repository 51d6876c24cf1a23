# pg.cmake - the throwaway PostgreSQL cluster of the tests, for any tests/ folder:
#   include(${PROJECT_SOURCE_DIR}/tests/pg/pg.cmake)
#   weir_pg_test(my_test)   # after add_test(NAME my_test ...)
# makes my_test require the fixture `pg` (ctest tests pg_start / pg_stop) and gives it
# WEIR_TEST_PG (libpq conninfo of the cluster's `weir` database; create your own
# database t_<name> from it and drop it after, so tests run in parallel),
# WEIR_TEST_PG_DIR and WEIR_PGFIXTURE (the tool, for clusters of your own).
# A short path the postgres user can reach (Unix socket paths hold ~100 bytes), unique
# per build folder so build trees (plain, sanitizer) never share a cluster.
string(MD5 weir_pg_hash "${CMAKE_BINARY_DIR}")
string(SUBSTRING "${weir_pg_hash}" 0 10 weir_pg_hash)
set(WEIR_TEST_PG_DIR "/tmp/weir-test-pg-${weir_pg_hash}")
set(WEIR_TEST_PG "host=${WEIR_TEST_PG_DIR}/run user=weir dbname=weir")

function(weir_pg_test name)
  set_property(TEST ${name} APPEND PROPERTY FIXTURES_REQUIRED pg)
  set_property(TEST ${name} APPEND PROPERTY ENVIRONMENT
               "WEIR_TEST_PG=${WEIR_TEST_PG}"
               "WEIR_TEST_PG_DIR=${WEIR_TEST_PG_DIR}"
               "WEIR_PGFIXTURE=$<TARGET_FILE:weir_pgfixture>")
endfunction()
