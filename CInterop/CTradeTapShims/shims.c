#define _GNU_SOURCE
#include "tradetap_shims.h"
#include <linux/futex.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <errno.h>
#include <sys/prctl.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

int tt_futex_wait(uint32_t *word, uint32_t expected, int64_t timeout_ns) {
  struct timespec ts, *tsp = 0;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    tsp = &ts;
  }
  long r = syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, tsp, 0, 0);
  return r == 0 ? 0 : errno;
}

int tt_futex_wake(uint32_t *word, int32_t count) {
  return (int)syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, count, 0, 0, 0);
}

int tt_wake_create(void) {
  return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
}

int tt_wake_signal(int fd) {
  uint64_t one = 1;
  return (int)syscall(SYS_write, fd, &one, sizeof one);
}

int tt_wake_drain(int fd) {
  uint64_t count;
  return (int)read(fd, &count, sizeof count);
}

int tt_poll_nanoseconds(struct pollfd *fds, unsigned long count, int64_t timeout_ns) {
  struct timespec ts, *tsp = 0;
  if (timeout_ns >= 0) {
    ts.tv_sec = timeout_ns / 1000000000;
    ts.tv_nsec = timeout_ns % 1000000000;
    tsp = &ts;
  }
  return ppoll(fds, (nfds_t)count, tsp, 0);
}

int tt_set_timer_slack(uint64_t nanoseconds) {
  /* 0 would mean "back to the thread's default": ask for at least 1 ns. */
  return prctl(PR_SET_TIMERSLACK, (unsigned long)(nanoseconds ? nanoseconds : 1), 0, 0, 0);
}

int tt_populate_write(void *address, uint64_t length) {
  if (madvise(address, (size_t)length, MADV_POPULATE_WRITE) == 0) return 0;
  if (errno != EINVAL) return errno;
  /* Before 5.14: a locked add of 0 write-faults the page and cannot lose a
   * producer's store to the same word (the read-modify-write is atomic). */
  for (uint64_t offset = 0; offset < length; offset += 4096)
    __atomic_fetch_add((uint64_t *)((char *)address + offset), 0, __ATOMIC_RELAXED);
  return 0;
}

int tt_set_thread_name(const char *name) {
  return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0);
}
