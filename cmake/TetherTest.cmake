# tether_test(<name> SOURCES <files...> LIBS <targets...> [LABELS <labels...>])
# One executable per test file group, registered with CTest test by test.
function(tether_test name)
  cmake_parse_arguments(T "" "" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gmock GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    TETHER_FIXTURES_DIR="${TETHER_FIXTURES_DIR}"
    TETHER_SOURCE_DIR="${CMAKE_SOURCE_DIR}"
    TETHER_BINARY_DIR="${CMAKE_BINARY_DIR}")
  # The executable's name is a label too, so a job can pick whole test binaries (ctest -L): the
  # TSan job runs only the binaries it built (scripts/ci-sanitize).
  set(labels ${name} ${T_LABELS})
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300 LABELS "${labels}")
endfunction()
