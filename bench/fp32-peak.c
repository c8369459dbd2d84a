/*
 * The most float32 arithmetic one core can do: independent fused multiply-adds on the widest
 * vectors the compiler targets (-march=native), nothing read from memory. `npm run bench`
 * compiles it (when gcc is present) and runs one copy per core at once, to say how far the
 * fastest executor is from what the machine can do at all.
 *
 *     gcc -O3 -march=native -o fp32-peak fp32-peak.c && ./fp32-peak      # prints GFLOP/s
 */
#include <stdio.h>
#include <time.h>

#if defined(__AVX512F__)
#define VECTOR_BYTES 64
#else
#define VECTOR_BYTES 32
#endif
#define LANES (VECTOR_BYTES / 4)
/* Enough independent chains to hide the FMA latency on both FMA pipes. */
#define CHAINS 12

typedef float vec __attribute__((vector_size(VECTOR_BYTES)));

static double seconds(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}

int main(void) {
  const long iterations = 100000000;
  vec acc[CHAINS], scale, shift;
  for (int l = 0; l < LANES; l++) {
    scale[l] = 0.999999f;
    shift[l] = 1e-7f;
  }
  for (int c = 0; c < CHAINS; c++)
    for (int l = 0; l < LANES; l++) acc[c][l] = (float)(c + l);
  double start = seconds();
  for (long i = 0; i < iterations; i++) {
#pragma GCC unroll 12
    for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * scale + shift;
  }
  double elapsed = seconds() - start;
  float sink = 0;
  for (int c = 0; c < CHAINS; c++)
    for (int l = 0; l < LANES; l++) sink += acc[c][l];
  /* 2 flops (multiply, add) per lane per chain per iteration. */
  printf("%.3f %d %g\n", 2.0 * LANES * CHAINS * iterations / elapsed / 1e9, VECTOR_BYTES * 8, sink);
  return 0;
}
