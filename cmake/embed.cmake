# weir_embed(OUT_C SYMBOL FILES...): generates a C file defining
#   const struct wr_embedded SYMBOL[] = {{"name", data, len}, ..., {NULL, NULL, 0}};
# so data files (SQL migrations, meta-schemas) travel inside the binary.
function(weir_embed out_c symbol)
  set(files ${ARGN})
  # A ;-list inside one argument would be split into several by add_custom_command.
  string(REPLACE ";" "|" files_arg "${files}")
  add_custom_command(OUTPUT ${out_c}
    COMMAND ${CMAKE_COMMAND} -DOUT=${out_c} -DSYMBOL=${symbol} "-DFILES=${files_arg}"
            -P ${PROJECT_SOURCE_DIR}/cmake/embed_gen.cmake
    DEPENDS ${files} ${PROJECT_SOURCE_DIR}/cmake/embed_gen.cmake
    VERBATIM)
endfunction()
