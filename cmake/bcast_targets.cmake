# Interface targets every project target links privately: warnings (optionally
# fatal) and the sanitizers. No global flags: each target opts in by linking.
add_library(bcast_warnings INTERFACE)
target_compile_options(bcast_warnings INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wno-sign-conversion)
if(BCAST_WERROR)
  target_compile_options(bcast_warnings INTERFACE -Werror)
endif()

add_library(bcast_sanitize INTERFACE)
if(BCAST_SANITIZE)
  target_compile_options(bcast_sanitize INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(bcast_sanitize INTERFACE -fsanitize=address,undefined)
endif()
# Fuzz builds (Clang): libFuzzer needs the code under test instrumented for
# coverage, and ASan+UBSan in it; tests/fuzz links libFuzzer's main.
if(BCAST_FUZZ)
  target_compile_options(bcast_sanitize INTERFACE -fsanitize=fuzzer-no-link,address,undefined
                         -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(bcast_sanitize INTERFACE -fsanitize=address,undefined)
endif()

add_library(bcast_build_options INTERFACE)
target_compile_features(bcast_build_options INTERFACE cxx_std_20)
target_link_libraries(bcast_build_options INTERFACE bcast_warnings bcast_sanitize)
