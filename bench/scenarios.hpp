// The scenarios; each runs its matrix over the chosen systems and adds
// its records to env.out.
#pragma once

#include "harness.hpp"

namespace bench {

void run_fanout(bench_env& env);
void run_chat(bench_env& env);
void run_latency(bench_env& env);
void run_memory(bench_env& env);
void run_flood(bench_env& env);

}  // namespace bench
