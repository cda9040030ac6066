# What `cmake --install BUILD --prefix PREFIX` puts where (GNU directory
# names), besides the executable, which app/CMakeLists.txt installs:
#   share/broadcast-server/clients/{python,node,ruby}/  the script clients,
#       without their tests and without node_modules (`npm ci` there fetches
#       the pinned packages)
#   share/doc/broadcast-server/  the protocol spec and its test vectors, the
#       licence and the changelog
# tests/install checks the result and runs the installed binary.
include(GNUInstallDirs)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/scripts/clients/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/${PROJECT_NAME}/clients
        USE_SOURCE_PERMISSIONS
        FILES_MATCHING
          PATTERN "*.py" PATTERN "*.js" PATTERN "*.rb" PATTERN "*.md"
          PATTERN "package.json" PATTERN "package-lock.json"
          PATTERN "node_modules" EXCLUDE
          PATTERN "test" EXCLUDE
          PATTERN "__pycache__" EXCLUDE)

install(FILES ${PROJECT_SOURCE_DIR}/proto/PROTOCOL.md
              ${PROJECT_SOURCE_DIR}/LICENSE
              ${PROJECT_SOURCE_DIR}/CHANGELOG.md
        DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/proto/vectors
        DESTINATION ${CMAKE_INSTALL_DOCDIR}
        FILES_MATCHING PATTERN "*.json")
