# package.cmake - CPack: `cpack -G DEB` in the build folder makes weir_<version>_amd64.deb
# (Debian bookworm package names; the dependencies are the shared libraries weir links,
# checked by tests/packaging against `ldd weir`). The maintainer scripts (packaging/debian)
# create the `weir` system user and group, and /etc/default/weir from the example when
# it is missing; removing the package keeps both (purge removes the file).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME weir)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "weir")
set(CPACK_PACKAGE_CONTACT "weir maintainers <weir@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "event-ingest gateway and data-lake curator (HTTP to spool to lake to Parquet)")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT) # weir_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_LICENSE Apache-2.0)
set(CPACK_DEBIAN_PACKAGE_DEPENDS
    "libc6, libpq5, libmicrohttpd12, libgnutls30, libjansson4, libcurl4, zlib1g, libssl3, libpcre2-8-0, \
libzstd1, libdeflate0, libyaml-0-2, libmaxminddb0, adduser")
# The embedded default (`weir up`, or no WEIR_DATABASE_URL) runs PostgreSQL's server
# binaries, and the gateway's user-agent parsing reads uap-core's regexes: apt installs
# recommendations by default; --no-install-recommends for a machine with Postgres elsewhere.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "postgresql, uap-core")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
