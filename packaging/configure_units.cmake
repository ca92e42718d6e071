# Run at install time (install(SCRIPT)): writes the units with the binary's path under the prefix
# being installed to (cmake --install --prefix P, or /usr for the package).
foreach(unit localproxy@.service localproxy@operator.socket)
  file(READ ${LP_UNIT_SOURCE_DIR}/${unit} text)
  string(REPLACE "/usr/bin/localproxy" "${CMAKE_INSTALL_PREFIX}/${LP_BINDIR}/localproxy" text "${text}")
  file(WRITE ${LP_UNIT_OUTPUT_DIR}/${unit} "${text}")
endforeach()
