#define _GNU_SOURCE
#include "tradetap_tls.h"
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <errno.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <unistd.h>

tt_ssl_ctx *tt_tls_client_context(const char *ca_file) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) return NULL;
  /* TLS 1.3 only: a collector offering 1.2 or older fails the handshake. */
  if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1 ||
      SSL_CTX_set_max_proto_version(ctx, TLS1_3_VERSION) != 1) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  int loaded = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                       : SSL_CTX_set_default_verify_paths(ctx);
  if (loaded != 1) {
    SSL_CTX_free(ctx);
    return NULL;
  }
  /* Non-blocking socket: let SSL_write return after part of a record was written
   * and accept a different buffer address on the retry (Swift arrays move). */
  SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return ctx;
}

int tt_tls_expect_server_name(tt_ssl *ssl, const char *server_name) {
  unsigned char addr[16];
  int is_ip = inet_pton(AF_INET, server_name, addr) == 1 || inet_pton(AF_INET6, server_name, addr) == 1;
  if (is_ip) {
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    return X509_VERIFY_PARAM_set1_ip_asc(param, server_name) == 1 ? 0 : -1;
  }
  if (SSL_set_tlsext_host_name(ssl, server_name) != 1) return -1;
  SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  return SSL_set1_host(ssl, server_name) == 1 ? 0 : -1;
}

int tt_random_bytes(void *buffer, size_t count) {
  unsigned char *p = buffer;
  while (count > 0) {
    ssize_t n = getrandom(p, count, 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    p += n;
    count -= (size_t)n;
  }
  return 0;
}

int tt_eventfd(void) { return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK); }

int tt_eventfd_signal(int fd) {
  uint64_t one = 1;
  return write(fd, &one, sizeof one) == (ssize_t)sizeof one ? 0 : -1;
}

int tt_eventfd_drain(int fd) {
  uint64_t value;
  return read(fd, &value, sizeof value) == (ssize_t)sizeof value ? 0 : -1;
}

