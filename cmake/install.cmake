# install.cmake - what `cmake --install` puts where (GNUInstallDirs, under
# CMAKE_INSTALL_PREFIX; the Debian package uses /usr):
#   bin/weir                              the one executable
#   share/weir/schemas/*.json             the example schemas (also built into weir)
#   share/weir/migrations/*.sql           the SQL migrations (also built into weir)
#   lib/systemd/system/weir-*.{service,timer}  the units, ExecStart = this prefix's weir
#   share/doc/weir/                       README, LICENSE, CHANGELOG, docs/, weir.env example
#   etc/default/weir                      the units' environment file, unless it exists;
#                                         under /usr the package's postinst makes
#                                         /etc/default/weir instead
include(GNUInstallDirs)

install(TARGETS weir RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT weir)
file(GLOB weir_install_schemas ${PROJECT_SOURCE_DIR}/schemas/*.json)
install(FILES ${weir_install_schemas} DESTINATION ${CMAKE_INSTALL_DATADIR}/weir/schemas
        COMPONENT weir)
file(GLOB weir_install_migrations ${PROJECT_SOURCE_DIR}/migrations/*.sql)
install(FILES ${weir_install_migrations} DESTINATION ${CMAKE_INSTALL_DATADIR}/weir/migrations
        COMPONENT weir)
file(GLOB weir_install_docs CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/docs/*)
install(FILES ${PROJECT_SOURCE_DIR}/README.md ${PROJECT_SOURCE_DIR}/LICENSE
              ${PROJECT_SOURCE_DIR}/CHANGELOG.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT weir)
install(FILES ${weir_install_docs} DESTINATION ${CMAKE_INSTALL_DOCDIR}/docs COMPONENT weir)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/weir.env
        DESTINATION ${CMAKE_INSTALL_DOCDIR}/examples COMPONENT weir)

# The units name /usr/bin/weir and /etc/default/weir; at install time (when the prefix
# is final: cpack sets its own) they are rewritten for the actual prefix, so a
# /usr/local install gets units that start /usr/local/bin/weir.
set(WEIR_UNITS weir-gateway.service weir-curate.service weir-curate.timer
    weir-console.service)
set(weir_unit_src ${PROJECT_SOURCE_DIR}/packaging/systemd)
install(CODE "
  set(prefix \"\${CMAKE_INSTALL_PREFIX}\")
  # cpack installs into a staging folder that ends with the packaging prefix.
  if(DEFINED CPACK_PACKAGING_INSTALL_PREFIX)
    set(prefix \"\${CPACK_PACKAGING_INSTALL_PREFIX}\")
  endif()
  if(prefix STREQUAL \"/usr\")
    set(etc \"/etc\")
  else()
    set(etc \"\${prefix}/etc\")
  endif()
  set(units_dir \"\${CMAKE_INSTALL_PREFIX}/lib/systemd/system\")
  file(MAKE_DIRECTORY \"\$ENV{DESTDIR}\${units_dir}\")
  foreach(u ${WEIR_UNITS})
    file(READ \"${weir_unit_src}/\${u}\" text)
    string(REPLACE \"/usr/bin/weir\" \"\${prefix}/${CMAKE_INSTALL_BINDIR}/weir\" text \"\${text}\")
    string(REPLACE \"/etc/default/weir\" \"\${etc}/default/weir\" text \"\${text}\")
    string(REPLACE \"/usr/share/doc/weir\" \"\${prefix}/${CMAKE_INSTALL_DATADIR}/doc/weir\"
           text \"\${text}\")
    message(STATUS \"Installing: \$ENV{DESTDIR}\${units_dir}/\${u}\")
    file(WRITE \"\$ENV{DESTDIR}\${units_dir}/\${u}\" \"\${text}\")
  endforeach()
  # Under /usr the package's postinst makes /etc/default/weir; any other prefix gets its
  # etc/default/weir here, never overwriting the operator's.
  set(envf \"\$ENV{DESTDIR}\${etc}/default/weir\")
  if(NOT prefix STREQUAL \"/usr\" AND NOT EXISTS \"\${envf}\")
    message(STATUS \"Installing: \${envf}\")
    file(MAKE_DIRECTORY \"\$ENV{DESTDIR}\${etc}/default\")
    file(COPY_FILE \"${PROJECT_SOURCE_DIR}/packaging/weir.env\" \"\${envf}\")
  endif()
" COMPONENT weir)
