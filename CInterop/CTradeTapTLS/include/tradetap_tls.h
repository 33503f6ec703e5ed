/*
 * tradetap_tls.h: the sender's few C helpers. OpenSSL configures TLS versions,
 * SNI and modes through macros (SSL_CTX_set_min_proto_version, SSL_set_tlsext_host_name,
 * SSL_CTX_set_mode) that Swift cannot import; glibc's getrandom and eventfd live in
 * headers Swift's Glibc module does not cover. Socket I/O and the protocol stay in Swift.
 * Every function returns 0 on success and a negative value on failure.
 */
#ifndef TRADETAP_TLS_H
#define TRADETAP_TLS_H

#include <stddef.h>
#include <stdint.h>

typedef struct ssl_ctx_st tt_ssl_ctx;
typedef struct ssl_st tt_ssl;

/* A client context that speaks TLS 1.3 only, verifies the peer, and trusts ca_file
 * (PEM bundle) or, when ca_file is NULL, the system store. Returns NULL on error and
 * leaves OpenSSL's reason on its error queue. */
tt_ssl_ctx *tt_tls_client_context(const char *ca_file);

/* Sets SNI (unless server_name is an IP literal) and the name or IP address the
 * peer's certificate must carry. */
int tt_tls_expect_server_name(tt_ssl *ssl, const char *server_name);

/* Fills buffer with count bytes from the kernel's CSPRNG (getrandom, blocking only
 * until the pool is initialised at boot). */
int tt_random_bytes(void *buffer, size_t count);

/* A non-blocking, close-on-exec eventfd (stop signal for the sender's poll). */
int tt_eventfd(void);
int tt_eventfd_signal(int fd);
int tt_eventfd_drain(int fd);

#endif /* TRADETAP_TLS_H */
