/*
 * tradetap_shims.h: the few C primitives Swift cannot express without the
 * runtime: atomics on raw (memory-mapped) addresses, futex waits and wakes, and
 * monotonic clocks. Every function is static inline so that calls from the hook
 * path compile to single instructions, with no call into the Swift runtime.
 */
#ifndef TRADETAP_SHIMS_H
#define TRADETAP_SHIMS_H

#include <stdint.h>
#include <time.h>
#include <poll.h>

/* Atomics on an arbitrary 8-byte-aligned address (e.g. inside a MAP_SHARED file). */
static inline uint64_t tt_load_acquire_u64(const void *p) {
  return __atomic_load_n((const uint64_t *)p, __ATOMIC_ACQUIRE);
}
static inline uint64_t tt_load_relaxed_u64(const void *p) {
  return __atomic_load_n((const uint64_t *)p, __ATOMIC_RELAXED);
}
static inline void tt_store_release_u64(void *p, uint64_t v) {
  __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELEASE);
}
static inline void tt_store_relaxed_u64(void *p, uint64_t v) {
  __atomic_store_n((uint64_t *)p, v, __ATOMIC_RELAXED);
}
static inline uint64_t tt_fetch_add_u64(void *p, uint64_t v) {
  return __atomic_fetch_add((uint64_t *)p, v, __ATOMIC_ACQ_REL);
}
static inline uint64_t tt_exchange_u64(void *p, uint64_t v) {
  return __atomic_exchange_n((uint64_t *)p, v, __ATOMIC_ACQ_REL);
}
/* Returns 1 and stores desired when *p == expected; otherwise 0. */
static inline int tt_cas_u64(void *p, uint64_t expected, uint64_t desired) {
  return __atomic_compare_exchange_n((uint64_t *)p, &expected, desired, 0,
                                     __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}
static inline uint32_t tt_load_acquire_u32(const void *p) {
  return __atomic_load_n((const uint32_t *)p, __ATOMIC_ACQUIRE);
}
static inline void tt_store_release_u32(void *p, uint32_t v) {
  __atomic_store_n((uint32_t *)p, v, __ATOMIC_RELEASE);
}
static inline uint32_t tt_exchange_u32(void *p, uint32_t v) {
  return __atomic_exchange_n((uint32_t *)p, v, __ATOMIC_ACQ_REL);
}
/* Sequentially consistent store / load: the two halves of the hook's
 * commit-then-check-parked handshake with a parking consumer (Dekker). */
static inline void tt_store_seq_cst_u64(void *p, uint64_t v) {
  __atomic_store_n((uint64_t *)p, v, __ATOMIC_SEQ_CST);
}
static inline uint32_t tt_load_seq_cst_u32(const void *p) {
  return __atomic_load_n((const uint32_t *)p, __ATOMIC_SEQ_CST);
}
static inline uint64_t tt_fetch_add_relaxed_u64(void *p, uint64_t v) {
  return __atomic_fetch_add((uint64_t *)p, v, __ATOMIC_RELAXED);
}
static inline void tt_fence_seq_cst(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }
static inline void tt_cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ __volatile__("yield");
#endif
}

/* Copies n bytes; inlined so the hook path makes no call it cannot see. */
static inline void tt_copy(void *dst, const void *src, uint64_t n) {
  __builtin_memcpy(dst, src, (size_t)n);
}

/* Futex on a 32-bit word (private to the process). Defined in shims.c: these
 * are syscalls and never run on the hook path except the one wake-after-idle. */
int tt_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns);
int tt_futex_wake(uint32_t *word, int32_t count);

/* The consumer's wake-up eventfd (non-blocking, close-on-exec): the sender polls it
 * together with its socket, so a commit and an ack wake it alike. Defined in shims.c.
 * tt_wake_signal is the hook path's one system call (only when the consumer is
 * parked): a raw syscall(SYS_write), so the hook leaves the .so through the same
 * single entry point as before and not through write(3)'s cancellation wrapper. */
int tt_wake_create(void);
int tt_wake_signal(int fd);
int tt_wake_drain(int fd);
/* ppoll(2) with a nanosecond timeout (< 0: none); -1 with errno on failure. */
int tt_poll_nanoseconds(struct pollfd *fds, unsigned long count, int64_t timeout_ns);
/* prctl(PR_SET_TIMERSLACK): how late the kernel may end this thread's timed sleeps
 * (default 50 µs, which would double a 50 µs poll). 0 on success. */
int tt_set_timer_slack(uint64_t nanoseconds);

/* Write-faults the pages of [address, address + length) without changing a byte:
 * madvise(MADV_POPULATE_WRITE) (Linux 5.14+), else an atomic add of 0 to one word
 * per page. Never on the hook path. 0 on success, else the madvise errno. */
int tt_populate_write(void *address, uint64_t length);
/* prctl(PR_SET_NAME): names the calling thread (15 bytes at most). 0 on success. */
int tt_set_thread_name(const char *name);

/* CLOCK_MONOTONIC in nanoseconds (vDSO: no syscall). */
static inline uint64_t tt_monotonic_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
/* The CPU's invariant cycle counter (x86 TSC, AArch64 CNTVCT): the hook's clock.
 * A few ns where clock_gettime costs ~15-20 ns; the journal's reader converts it
 * to CLOCK_MONOTONIC nanoseconds off the hook path. Elsewhere: monotonic ns. */
static inline uint64_t tt_cycle_counter(void) {
#if defined(__x86_64__)
  return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
  uint64_t v;
  __asm__ __volatile__("mrs %0, cntvct_el0" : "=r"(v));
  return v;
#else
  return tt_monotonic_ns();
#endif
}
/* CLOCK_REALTIME in milliseconds (vDSO: no syscall). */
static inline int64_t tt_realtime_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + (int64_t)(ts.tv_nsec / 1000000);
}

#endif /* TRADETAP_SHIMS_H */
