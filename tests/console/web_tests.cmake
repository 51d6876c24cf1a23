# tests/console/web_tests.cmake (included by tests/CMakeLists.txt): the console's web page
# in Debian's headless chromium, driven by puppeteer-core from tests/browser/node_modules
# (scripts/npm-deps.sh; nothing downloads a browser), against a real gateway, `weir curate`
# and `weir console` on a private Postgres cluster. Screenshots of every view are kept in
# this build folder (console-*.png). Exit 77 only when chromium is missing.
add_test(NAME console_web COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/web_console.py)
set_tests_properties(console_web PROPERTIES
  LABELS "integration;console;browser" TIMEOUT 300 SKIP_RETURN_CODE 77
  ENVIRONMENT "WEIR=$<TARGET_FILE:weir>;WEIR_PGFIXTURE=$<TARGET_FILE:weir_pgfixture>;WEIR_SCHEMAS=${PROJECT_SOURCE_DIR}/schemas;WEIR_PUPPETEER_DIR=${PROJECT_SOURCE_DIR}/tests/browser;WEIR_CONSOLE_ARTEFACTS=${CMAKE_CURRENT_BINARY_DIR}/console-web")
